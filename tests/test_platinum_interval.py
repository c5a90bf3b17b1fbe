"""Platinum-resistant and platinum-sensitive disease, as labels define them, read from the record:
the last platinum dose in the completed treatment and the first documented progression after it
(mCODE CancerDiseaseStatus "worsened"). Unknown never fails: it pends for a clinician."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from server.domain.order import Code, PriorCourse
from server.engine.policy import evaluate_indication
from server.knowledge.loader import load_knowledge
from server.knowledge.model import RXNORM, Indication, ProgressionInterval

from mappings.history import disease_status, last_given
from test_engine_scenarios import order, rx

pytestmark = pytest.mark.unit

KB = load_knowledge()
CARBOPLATIN = Code(RXNORM, KB.drugs["carboplatin"].rxnorm[0])
PACLITAXEL = Code(RXNORM, KB.drugs["paclitaxel"].rxnorm[0])
PLATINUM = ("cisplatin", "carboplatin")


def check(status: str, courses=(), progressions=(), start=date(2026, 12, 1)):
    ind = Indication(cancer_types=("ovarian",), id="test-ovarian-platinum",
                     progression=ProgressionInterval(PLATINUM, 6, status == "resistant", f"platinum-{status}"))
    # the check reads only the record's treatment history and the requested start
    o = replace(order(rx("paclitaxel"), cancer="nsclc"), prior_courses=tuple(courses),
                progressions=tuple(progressions), treatment_start=start)
    result = evaluate_indication(ind, "ovarian", o, KB)
    return next(c for c in result.checks if c.what == "progression interval")


def carboplatin(last: date | None) -> PriorCourse:
    return PriorCourse((CARBOPLATIN,), last)


def test_progression_four_months_after_the_last_carboplatin_is_platinum_resistant():
    c = check("resistant", [carboplatin(date(2026, 5, 10))], [date(2026, 9, 10)])
    assert c.status is True
    assert "last dose 2026-05-10, progression 2026-09-10, within 6 months" in c.reported


def test_progression_eight_months_after_is_not_resistant_and_is_sensitive():
    courses, progressed = [carboplatin(date(2026, 1, 15))], [date(2026, 9, 15)]
    assert check("resistant", courses, progressed).status is False
    sensitive = check("sensitive", courses, progressed)
    assert sensitive.status is True and "more than 6 months" in sensitive.reported


def test_the_window_is_six_calendar_months_to_the_day():
    courses = [carboplatin(date(2026, 3, 31))]
    assert check("resistant", courses, [date(2026, 9, 30)]).status is True    # Sep 30: the window's last day
    assert check("resistant", courses, [date(2026, 10, 1)]).status is False


def test_the_latest_platinum_dose_counts_and_other_drugs_do_not():
    courses = [carboplatin(date(2025, 6, 1)), carboplatin(date(2026, 6, 1)),
               PriorCourse((PACLITAXEL,), date(2026, 8, 1))]
    c = check("resistant", courses, [date(2026, 10, 1)])
    assert c.status is True and "last dose 2026-06-01" in c.reported


def test_a_progression_before_the_last_platinum_is_not_the_one_that_counts():
    # progressed, re-treated with carboplatin, then no progression documented since
    c = check("resistant", [carboplatin(date(2026, 4, 1))], [date(2026, 1, 5)], start=date(2026, 12, 1))
    assert c.status is None and "progression after the last dose not reported" in c.reported


def test_without_a_progression_date_a_start_inside_the_window_shows_resistance_but_not_sensitivity():
    courses = [carboplatin(date(2026, 8, 1))]
    resistant = check("resistant", courses, start=date(2026, 12, 1))
    assert resistant.status is True and "requested start 2026-12-01" in resistant.reported
    assert check("sensitive", courses, start=date(2026, 12, 1)).status is False
    # starting later proves nothing: progression may have come early and treatment late
    assert check("sensitive", courses, start=date(2027, 4, 1)).status is None
    assert check("resistant", courses, start=date(2027, 4, 1)).status is None


def test_a_record_without_platinum_or_without_its_date_is_unknown_never_failed():
    assert check("resistant").status is None
    assert "prior cisplatin or carboplatin dose not reported" in check("resistant").reported
    undated = check("sensitive", [carboplatin(None)], [date(2026, 9, 1)])
    assert undated.status is None and "date of the last cisplatin or carboplatin dose not reported" in undated.reported


# --- reading the dates from FHIR -----------------------------------------------------------------

def test_an_administration_is_dated_by_its_effective_time_and_a_request_by_its_last_event():
    admin = {"resourceType": "MedicationAdministration", "effectiveDateTime": "2026-05-10T09:30:00Z"}
    assert last_given(admin) == date(2026, 5, 10)
    request = {"resourceType": "MedicationRequest", "authoredOn": "2026-01-02",
               "dosageInstruction": [{"timing": {"event": ["2026-02-01", "2026-04-26"]}},
                                     {"timing": {"repeat": {"boundsPeriod": {"start": "2026-03-01",
                                                                             "end": "2026-03-22"}}}}]}
    assert last_given(request) == date(2026, 4, 26)
    assert last_given({"resourceType": "MedicationRequest", "authoredOn": "2026-01-02"}) == date(2026, 1, 2)


def test_only_a_worsened_cancer_disease_status_is_a_progression(examples_dir):
    import json
    improved = json.loads((examples_dir / "mcode-4.0.0" / "Observation-cancer-disease-status-jenny-m.json").read_text())
    assert disease_status(improved) is None            # the mCODE example: condition improved
    worse = {**improved, "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                              "code": "271299001"}]}}
    assert disease_status(worse) == ("worsened", date(2018, 11, 1))
    assert disease_status({**worse, "status": "entered-in-error"}) is None
    other = {**worse, "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]}, "meta": {}}
    assert disease_status(other) is None


# --- maintenance after a response ---------------------------------------------------------------

def test_maintenance_needs_a_remission_documented_after_the_induction_and_improved_is_not_enough():
    from server.engine.policy import _response_check
    rituximab = PriorCourse((Code(RXNORM, KB.drugs["rituximab"].rxnorm[0]),), date(2026, 8, 17))
    base = replace(order(rx("rituximab"), cancer="nsclc"), prior_courses=(rituximab,))
    assert _response_check(("rituximab",), replace(base, responses=(date(2026, 10, 6),)), KB).status is True
    assert _response_check(("rituximab",), replace(base, progressions=(date(2026, 10, 6),)), KB).status is False
    assert _response_check(("rituximab",), base, KB).status is None                       # no status on record
    before = replace(base, responses=(date(2026, 5, 1),))                                # a remission before that induction
    assert _response_check(("rituximab",), before, KB).status is None


def test_only_a_full_or_partial_remission_status_is_read_as_a_response(examples_dir):
    import json
    improved = json.loads((examples_dir / "mcode-4.0.0" / "Observation-cancer-disease-status-jenny-m.json").read_text())
    assert disease_status(improved) is None                                               # "condition improved"
    partial = {**improved, "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                                "code": "551001000124108"}]}}
    assert disease_status(partial) == ("remission", date(2018, 11, 1))
