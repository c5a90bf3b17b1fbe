"""Transplant candidacy ("ineligible for autologous stem cell transplant": Darzalex DRd, Sarclisa
VRd, Calquence BR, R-GemOx) is a clinician's attestation: answered on the program worksheet, and
read through both doors when the worksheet's QuestionnaireResponse comes with the request (2027.1.4)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from mappings.worksheet import transplant_candidacy, worksheet_answers
from server.engine.policy import evaluate_indication
from server.hooks.questionnaires import worksheet
from server.hooks.registry import PREFETCH
from server.knowledge.loader import load_knowledge
from server.worksheets.service import merge_answers, prefill
from test_engine_scenarios import order, rx

pytestmark = pytest.mark.unit

KB = load_knowledge()
DRD = next(i for i in KB.indications_for("daratumumab", "myeloma")
           if i.id == "daratumumab-myeloma-1l-transplant-ineligible-with-lenalidomide")


def response(answer: str, questionnaire="http://x/fhir/Questionnaire/oncopath-worksheet-myeloma", status="completed"):
    return {"resourceType": "QuestionnaireResponse", "status": status, "questionnaire": questionnaire,
            "item": [{"linkId": "history", "item": [{"linkId": "history.transplant",
                                                     "answer": [{"valueCoding": {"code": answer}}]}]}]}


def candidacy_check(status):
    o = replace(order(rx("daratumumab"), rx("lenalidomide"), cancer="myeloma"), transplant=status)
    return next(c for c in evaluate_indication(DRD, "myeloma", o, KB).checks if c.what == "transplant candidacy")


def test_our_worksheet_response_is_read_and_others_are_not():
    assert transplant_candidacy(worksheet_answers(response("ineligible"))) == "ineligible"
    assert transplant_candidacy(worksheet_answers(response("eligible"))) == "eligible"
    assert worksheet_answers(response("ineligible", questionnaire="http://x/Questionnaire/phq-9")) == {}
    assert worksheet_answers(response("ineligible", status="in-progress")) == {}
    assert transplant_candidacy(worksheet_answers(response("maybe"))) is None


def test_drd_needs_a_patient_who_is_not_a_transplant_candidate_and_unattested_pends():
    assert candidacy_check("ineligible").status is True
    eligible = candidacy_check("eligible")
    assert eligible.status is False and eligible.reported == "reported a transplant candidate"
    assert candidacy_check(None).status is None


def test_the_worksheet_asks_candidacy_where_a_label_needs_it_and_the_hook_prefetches_responses():
    def links(cancer):
        form = worksheet(cancer, KB, "https://x/Questionnaire/w", KB.version)
        return {i["linkId"] for g in form["item"] for i in g.get("item", [])}
    assert "history.transplant" in links("myeloma") and "history.transplant" not in links("breast")
    assert PREFETCH["worksheets"].startswith("QuestionnaireResponse?patient=")
    answered = merge_answers(order(rx("daratumumab"), cancer="myeloma"), {"history.transplant": "ineligible"})
    assert answered.transplant == "ineligible" and prefill(answered)["history.transplant"] == "ineligible"
