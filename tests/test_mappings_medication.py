"""MedicationRequest -> DrugLine: drug codes, timing (cycle, count, days), dose, route, role."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mappings.fhir import ResourceIndex
from mappings.medication import drug_line
from server.domain.order import DrugRole, LineOfTherapy, Setting
from server.errors import BadRequest

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "examples"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
DAYS = "http://hl7.org/fhir/us/codex-ocpa/StructureDefinition/regimen-days-of-cycle"
OCPA = "http://hl7.org/fhir/us/codex-ocpa/CodeSystem/ocpa-codes"


def request(**changes) -> dict:
    """A draft docetaxel order: 75 mg/m2 IV, day 1 of a 21-day cycle, 6 cycles."""
    mr = {
        "resourceType": "MedicationRequest", "id": "docetaxel", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [
            {"system": RX, "code": "72962", "display": "docetaxel"},
            {"system": HCPCS, "code": "J9171", "display": "Injection, docetaxel, 1 mg"}]},
        "subject": {"reference": "Patient/p1"},
        "requester": {"reference": "Practitioner/onc"},
        "dosageInstruction": [{
            "timing": {"extension": [{"url": DAYS, "extension": [{"url": "day", "valueInteger": 1}]}],
                       "repeat": {"boundsPeriod": {"start": "2026-12-01"}, "count": 6,
                                  "frequency": 1, "period": 21, "periodUnit": "d"}},
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
            "doseAndRate": [{"doseQuantity": {"value": 75, "unit": "mg/m2",
                                              "system": "http://unitsofmeasure.org", "code": "mg/m2"}}]}],
    }
    mr.update(changes)
    return mr


def line(mr: dict, index: ResourceIndex | None = None):
    return drug_line(mr, "MedicationRequest", index).line


def test_a_21_day_cycle_for_6_cycles_on_day_1_is_read_from_timing_repeat():
    d = line(request())
    assert (d.cycle_length_days, d.cycles, d.administration_days) == (21, 6, (1,))
    assert (d.dose, d.dose_unit, d.route) == (75.0, "mg/m2", "IV")
    assert d.start.isoformat() == "2026-12-01"
    assert d.until_progression is False
    assert d.ref == "MedicationRequest/docetaxel"


def test_rxnorm_and_hcpcs_codes_are_kept_as_sent():
    d = line(request())
    assert [(c.system, c.code) for c in d.codes] == [(RX, "72962"), (HCPCS, "J9171")]
    assert d.display == "docetaxel"


def test_a_period_of_3_weeks_is_a_21_day_cycle():
    mr = request()
    mr["dosageInstruction"][0]["timing"]["repeat"].update(period=3, periodUnit="wk")
    assert line(mr).cycle_length_days == 21


def test_days_1_8_15_of_a_28_day_cycle_from_the_days_of_cycle_extension():
    mr = request()
    timing = mr["dosageInstruction"][0]["timing"]
    timing["extension"][0]["extension"] = [{"url": "day", "valueInteger": d} for d in (15, 1, 8)]
    timing["repeat"].update(period=28)
    d = line(mr)
    assert (d.cycle_length_days, d.administration_days, d.frequency_per_day) == (28, (1, 8, 15), 1)


def test_the_core_timing_days_of_cycle_extension_is_read_too():
    mr = request()
    mr["dosageInstruction"][0]["timing"]["extension"][0]["url"] = \
        "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
    assert line(mr).administration_days == (1,)


def test_timing_events_become_days_of_the_cycle_counted_from_the_start():
    mr = request()
    timing = mr["dosageInstruction"][0]["timing"]
    del timing["extension"]
    timing["event"] = ["2026-12-01", "2026-12-08", "2026-12-15"]
    assert line(mr).administration_days == (1, 8, 15)


def test_no_count_and_until_progression_in_the_text_means_until_progression():
    mr = request()
    del mr["dosageInstruction"][0]["timing"]["repeat"]["count"]
    mr["dosageInstruction"][0]["text"] = "trastuzumab 6 mg/kg every 21 days until disease progression"
    d = line(mr)
    assert d.cycles is None and d.until_progression is True


def test_no_count_and_no_statement_leaves_cycles_not_reported():
    mr = request()
    del mr["dosageInstruction"][0]["timing"]["repeat"]["count"]
    d = line(mr)
    assert d.cycles is None and d.until_progression is False


def test_oral_twice_daily_is_a_frequency_not_a_cycle():
    mr = request()
    mr["dosageInstruction"][0]["timing"] = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}
    mr["dosageInstruction"][0]["route"] = {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]}
    d = line(mr)
    assert (d.cycle_length_days, d.frequency_per_day, d.route) == (None, 2, "PO")


def test_mg_per_kg_dose_and_ucum_mg_m2_spellings():
    mr = request()
    mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {"value": 8, "unit": "mg/kg", "code": "mg/kg"}
    assert (line(mr).dose, line(mr).dose_unit) == (8.0, "mg/kg")
    mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {"value": 75, "unit": "mg/m²"}
    assert line(mr).dose_unit == "mg/m2"


def test_start_falls_back_to_the_dispense_validity_period():
    mr = request()
    del mr["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]
    mr["dispenseRequest"] = {"validityPeriod": {"start": "2026-12-03", "end": "2027-06-03"}}
    d = line(mr)
    assert (d.start.isoformat(), d.end.isoformat()) == ("2026-12-03", "2027-06-03")


def test_ndc_code_from_a_contained_medication():
    mr = request(medicationReference={"reference": "#med"},
                 contained=[{"resourceType": "Medication", "id": "med",
                             "code": {"coding": [{"system": NDC, "code": "50242-0134-01"}], "text": "Perjeta"}}])
    del mr["medicationCodeableConcept"]
    d = line(mr)
    assert [(c.system, c.code) for c in d.codes] == [(NDC, "50242-0134-01")]
    assert d.display == "Perjeta"


def test_a_referenced_medication_in_the_same_request_is_resolved():
    med = {"resourceType": "Medication", "id": "m1",
           "code": {"coding": [{"system": RX, "code": "1298944", "display": "pertuzumab"}]}}
    index = ResourceIndex()
    index.add(med, "resources[0]")
    mr = request(medicationReference={"reference": "Medication/m1"})
    del mr["medicationCodeableConcept"]
    assert line(mr, index).codes[0].code == "1298944"


def test_a_medication_that_cannot_be_found_is_a_bad_request_naming_the_element():
    mr = request(medicationReference={"reference": "Medication/missing"})
    del mr["medicationCodeableConcept"]
    with pytest.raises(BadRequest) as err:
        line(mr, ResourceIndex())
    assert err.value.issues[0].expression == ["MedicationRequest.medication"]
    assert "Medication/missing" in err.value.issues[0].diagnostics


def test_a_malformed_period_is_a_bad_request_with_the_fhirpath_of_the_bad_element():
    mr = request()
    mr["dosageInstruction"][0]["timing"]["repeat"]["period"] = "three weeks"
    with pytest.raises(BadRequest) as err:
        line(mr)
    issue = err.value.issues[0]
    assert issue.code == "structure"
    assert issue.expression == ["MedicationRequest.dosageInstruction[0].timing.repeat.period"]


def test_a_resource_of_the_wrong_type_is_a_bad_request():
    with pytest.raises(BadRequest) as err:
        drug_line({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}, "draftOrders[0]")
    assert err.value.issues[0].expression == ["draftOrders[0]"]


def test_supportive_category_and_supportive_intent_make_a_supportive_line():
    mr = request(category=[{"coding": [{"system": OCPA, "code": "supportive"}]}])
    assert line(mr).role is DrugRole.SUPPORTIVE
    mr = request(extension=[{"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-procedure-intent",
                             "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                                  "code": "399707004"}]}}])
    assert line(mr).role is DrugRole.SUPPORTIVE


def test_investigational_category_marks_a_trial_drug_and_the_study_link_is_kept():
    mr = request(category=[{"coding": [{"system": "http://oncopath.example.org/fhir/CodeSystem/drug-role",
                                        "code": "investigational"}]}],
                 extension=[{"url": "http://hl7.org/fhir/StructureDefinition/workflow-researchStudy",
                             "valueReference": {"reference": "ResearchStudy/s1"}}])
    facts = drug_line(mr, "MedicationRequest")
    assert facts.line.role is DrugRole.INVESTIGATIONAL
    assert facts.research_study == "ResearchStudy/s1"


def test_without_a_role_the_knowledge_base_decides():
    assert line(request()).role is DrugRole.UNKNOWN


def test_adjuvant_intent_is_a_setting_hint():
    mr = request(extension=[{"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-procedure-intent",
                             "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                                  "code": "373846009"}]}}])
    assert drug_line(mr, "MedicationRequest").setting is Setting.ADJUVANT


def test_regimen_treatment_line_extension_gives_the_line_of_therapy():
    mr = request(extension=[{
        "url": "http://hl7.org/fhir/us/codex-ocpa/StructureDefinition/ocpa-regimen-treatment-line",
        "valueCodeableConcept": {"coding": [{
            "system": "http://hl7.org/fhir/us/codex-ocpa/CodeSystem/treatment-line-cs", "code": "3L-plus"}]}}])
    assert drug_line(mr, "MedicationRequest").line_of_therapy is LineOfTherapy.THIRD_PLUS


@pytest.mark.parametrize("name", sorted(p.name for p in (EXAMPLES / "mcode-4.0.0").glob("MedicationRequest-*.json")))
def test_every_mcode_medication_request_example_maps_with_its_rxnorm_code(name):
    mr = json.loads((EXAMPLES / "mcode-4.0.0" / name).read_text())
    d = line(mr)
    assert d.codes[0].system == RX
    assert d.codes[0].code == mr["medicationCodeableConcept"]["coding"][0]["code"]


def test_mcode_cisplatin_example_is_one_dose_of_75_mg_m2_iv_on_its_event_day():
    mr = json.loads((EXAMPLES / "mcode-4.0.0" / "MedicationRequest-cancer-related-medication-request-cisplatin.json").read_text())
    d = line(mr)
    assert (d.dose, d.dose_unit, d.route, d.cycles, d.administration_days) == (75.0, "mg/m2", "IV", 1, (1,))


def test_pas_medication_request_example_keeps_its_ndc_and_dispense_quantity():
    mr = json.loads((EXAMPLES / "pas-2.2.1" / "MedicationRequest-MedicationRequestExample.json").read_text())
    d = line(mr)
    assert [(c.system, c.code) for c in d.codes] == [(NDC, "0777-3105-02")]
    assert (d.quantity, d.quantity_unit) == (300.0, "mg")


def test_the_input_dict_is_not_modified():
    mr = request()
    before = copy.deepcopy(mr)
    line(mr)
    assert mr == before


def test_a_category_sent_as_one_object_instead_of_a_list_is_read_as_that_one_category():
    """The CDS Hooks Sandbox sends MedicationRequest.category as an object (STU3 style)."""
    from mappings.fhir import parse

    mr = {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
          "subject": {"reference": "Patient/p1"},
          "category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                                   "code": "community"}]},
          "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                    "code": "224905"}]}}
    parsed = parse(mr, "draftOrders[0]", "MedicationRequest")
    assert [c.code for c in parsed.category[0].coding] == ["community"]
    assert isinstance(mr["category"], dict)   # the caller's copy is untouched


def test_a_wrong_type_that_is_not_a_single_object_for_a_list_is_still_a_bad_request():
    import pytest

    from mappings.fhir import parse
    from server.errors import BadRequest

    mr = {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
          "subject": {"reference": "Patient/p1"}, "category": "community"}
    with pytest.raises(BadRequest) as err:
        parse(mr, "draftOrders[0]", "MedicationRequest")
    assert err.value.issues[0].expression == ["draftOrders[0].category"]

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
