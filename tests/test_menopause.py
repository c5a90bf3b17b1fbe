"""Menopausal status for labels written for "postmenopausal women" (Faslodex), read from the
record's menopause-status Observation (SNOMED CT 161712005, as the MII onkologie profile codes it)
or answered on the worksheet; not stated pends, premenopausal fails (2027.1.4)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from mappings.observation import observation_facts
from server.engine.policy import evaluate_indication
from server.hooks.questionnaires import worksheet
from server.knowledge.loader import load_knowledge
from server.worksheets.service import merge_answers, prefill
from server.errors import BadRequest
from test_engine_scenarios import order, rx

pytestmark = pytest.mark.unit

KB = load_knowledge()
SNOMED = "http://snomed.info/sct"
FULVESTRANT = next(i for i in KB.indications_for("fulvestrant", "breast") if i.id == "fulvestrant-breast-hr-positive")


def status_obs(value_code: str) -> dict:
    return {"resourceType": "Observation", "id": "meno", "status": "final", "effectiveDateTime": "2026-10-20",
            "code": {"coding": [{"system": SNOMED, "code": "161712005", "display": "Menopause, function"}]},
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": value_code}]}}


def menopause_check(status):
    o = replace(order(rx("fulvestrant")), menopause=status)
    return next(c for c in evaluate_indication(FULVESTRANT, "breast", o, KB).checks
                if c.what == "menopausal status")


def test_the_menopause_observation_is_read_as_post_or_premenopausal():
    assert observation_facts(status_obs("76498008"), "x").menopause == "postmenopausal"
    assert observation_facts(status_obs("309606002"), "x").menopause == "premenopausal"
    # perimenopausal is not postmenopausal (the MII profile counts it with premenopausal)
    assert observation_facts(status_obs("307429007"), "x").menopause == "premenopausal"
    assert observation_facts(status_obs("12345"), "x").menopause is None


def test_fulvestrant_alone_needs_a_postmenopausal_woman_and_an_unstated_status_pends():
    assert menopause_check("postmenopausal").status is True
    assert menopause_check("premenopausal").status is False
    unknown = menopause_check(None)
    assert unknown.status is None and unknown.reported == "menopausal status not reported"


def test_the_breast_worksheet_asks_the_status_and_its_answer_is_decided_on():
    form = worksheet("breast", KB, "https://x/Questionnaire/w", KB.version)
    diagnosis = next(i for i in form["item"] if i["linkId"] == "diagnosis")["item"]
    assert "diagnosis.menopause" in {i["linkId"] for i in diagnosis}
    answered = merge_answers(order(rx("fulvestrant")), {"diagnosis.menopause": "postmenopausal"})
    assert answered.menopause == "postmenopausal" and prefill(answered)["diagnosis.menopause"] == "postmenopausal"
    with pytest.raises(BadRequest):
        merge_answers(order(rx("fulvestrant")), {"diagnosis.menopause": "maybe"})
