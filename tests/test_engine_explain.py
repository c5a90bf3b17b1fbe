"""Decision rendering: readable text for the CLI and a JSON-safe dict that round-trips."""
from __future__ import annotations

import json
from datetime import date

from kbfakes import fake_knowledge, her2, line, marker, order, thp
from server.domain.order import History, LineOfBusiness, PriorCase, Urgency
from server.engine import decide
from server.engine.explain import decision_from_dict, decision_to_dict, explain

KB = fake_knowledge()

SAMPLES = {
    "on pathway": order(*thp(dose=420, dose_unit="mg"), biomarkers=[her2()]),
    "pended with due-by": order(*thp(cycle_length_days=28), urgency=Urgency.URGENT),
    "custom plan": order(line("gemcitabine"), line("trastuzumab"), biomarkers=[her2()]),
    "out of program": order(*thp(), lob=LineOfBusiness.COMMERCIAL_PPO),
    "trial pointer": order(line("pembrolizumab"), cancer="melanoma", biomarkers=[marker("BRAF", variant="V600E")]),
    "precision": order(line("osimertinib"), cancer="nsclc", biomarkers=[marker("EGFR", variant="L858R")]),
}


def _decisions():
    dup = History((PriorCase("ORD-1", "r0", "Authorized", frozenset({"trastuzumab"}), date(2026, 11, 1), None),))
    for name, o in SAMPLES.items():
        yield name, decide(o, KB, dup if name == "pended with due-by" else History())


def test_decision_dict_is_json_safe_and_round_trips_to_an_equal_decision():
    for name, d in _decisions():
        data = decision_to_dict(d)
        text = json.dumps(data)          # raises on anything not JSON-safe
        back = decision_from_dict(json.loads(text))
        assert back == d, name


def test_decision_dict_uses_enum_values_and_iso_dates():
    d = decide(SAMPLES["on pathway"], KB, History())
    data = decision_to_dict(d)
    assert data["case_status"] == "Authorized"
    assert data["drugs"][0]["status"] == "Authorized"
    assert data["drugs"][0]["authorized_from"] == "2026-11-20"
    assert data["s_codes"][0]["code"] == "S0353"
    assert data["pathway"]["pathway_eligible_id"].startswith("PE-")
    pended = decide(SAMPLES["pended with due-by"], KB, History())
    assert decision_to_dict(pended)["due_by"] == "2026-11-17T14:00:00+00:00"


def test_explain_shows_status_drugs_pathway_s_codes_and_trace():
    text = explain(decide(SAMPLES["on pathway"], KB, History()))
    assert text.startswith("Case status: Authorized")
    assert "trastuzumab [trastuzumab]: Authorized" in text
    assert "Pathway Eligible ID PE-" in text
    assert "S0353 2026-11-20..2026-11-20" in text
    assert "Trace:" in text and "R4:" in text


def test_explain_shows_deviations_alternatives_pend_reasons_and_due_by():
    custom = explain(decide(SAMPLES["custom plan"], KB, History()))
    assert "[pend] custom-treatment-plan" in custom
    assert "On-pathway alternatives:" in custom and "THP" in custom
    assert "Pended because:" in custom and "Decision due by:" in custom
    out = explain(decide(SAMPLES["trial pointer"], KB, History()))
    assert "Trial options:" in out and "NCT02465060" in out

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.unit
