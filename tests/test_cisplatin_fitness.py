"""'Unfit for cisplatin' as EORTC 30986 defines it (GFR below 60 but above 30 mL/min and/or
performance status 2), read from the record's eGFR (LOINC 98979-8 / 33914-3) and ECOG (2027.1.4)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from mappings.observation import observation_facts
from server.engine.policy import evaluate_indication
from server.hooks.questionnaires import worksheet
from server.knowledge.loader import load_knowledge
from server.worksheets.service import merge_answers
from server.errors import BadRequest
from test_engine_scenarios import order, rx

pytestmark = pytest.mark.unit

KB = load_knowledge()
CARBO = next(i for i in KB.indications_for("carboplatin", "urothelial") if i.id == "carboplatin-urothelial-cisplatin-ineligible")


def egfr_obs(value, unit="mL/min/{1.73_m2}", code="98979-8"):
    return {"resourceType": "Observation", "id": "egfr", "status": "final", "effectiveDateTime": "2026-11-10",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def fitness(egfr, ecog):
    o = replace(order(rx("carboplatin"), rx("gemcitabine")), egfr=egfr, ecog=ecog)
    return next(c for c in evaluate_indication(CARBO, "urothelial", o, KB).checks if c.what == "fitness for cisplatin")


def test_the_egfr_observation_is_read_in_its_unit_and_not_in_another():
    assert observation_facts(egfr_obs(45), "x").egfr == 45.0
    assert observation_facts(egfr_obs(52, code="33914-3"), "x").egfr == 52.0      # MDRD
    assert observation_facts(egfr_obs(0.75, unit="mL/s/{1.73_m2}"), "x").egfr is None


@pytest.mark.parametrize("egfr, ecog, expected", [
    (45, 1, True),        # impaired renal function
    (80, 2, True),        # performance status 2
    (80, 0, False),       # fit for cisplatin
    (25, 2, False),       # GFR 30 or less: outside the trial
    (45, 3, False),       # PS 3: outside the trial
    (None, 2, None),      # PS 2, GFR unknown (it must be above 30)
    (80, None, None),     # normal GFR, performance status unknown
    (None, None, None),
])
def test_unfit_for_cisplatin_follows_the_eortc_30986_population(egfr, ecog, expected):
    assert fitness(egfr, ecog).status is expected


def test_the_urothelial_worksheet_asks_the_egfr_and_reads_the_answer():
    form = worksheet("urothelial", KB, "https://x/Questionnaire/w", KB.version)
    links = {i["linkId"] for g in form["item"] for i in g.get("item", [])}
    assert "diagnosis.egfr" in links
    assert merge_answers(order(rx("carboplatin")), {"diagnosis.egfr": "48"}).egfr == 48.0
    with pytest.raises(BadRequest):
        merge_answers(order(rx("carboplatin")), {"diagnosis.egfr": "low"})
