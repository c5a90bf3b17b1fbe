"""The CDS Hooks door: draft MedicationRequests plus the patient's resources -> Order.

Also: the demo fixtures map to the facts they were written to show, and the table-driven
pieces (line of business, FN risk factors, providers) read what they should.
"""
from __future__ import annotations

from dataclasses import replace

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from mappings import order_from_bundle, order_from_resources
from mappings.coverage import coverage_facts
from server.domain.order import (
    BiomarkerResult, DrugRole, LineOfBusiness, LineOfTherapy, NetworkStatus, ProviderKind, Setting,
    Urgency,
)
from server.errors import BadRequest

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def fixture(name: str) -> dict:
    return json.loads((BUNDLES / name).read_text())


def split(bundle: dict) -> tuple[list[dict], list[dict]]:
    """A fixture as a CDS Hooks call: draft orders, and the rest as prefetch searchset Bundles."""
    resources = [e["resource"] for e in bundle["entry"]]
    drafts = [r for r in resources if r["resourceType"] == "MedicationRequest" and r["status"] == "draft"]
    rest = [r for r in resources if r not in drafts]
    by_type: dict[str, list] = {}
    for r in rest:
        by_type.setdefault(r["resourceType"], []).append(r)
    prefetch = [{"resourceType": "Bundle", "type": "searchset",
                 "entry": [{"resource": r} for r in group]} for group in by_type.values()]
    return drafts, prefetch


def test_draft_orders_plus_prefetch_bundles_give_the_same_order_as_the_collection_bundle():
    bundle = fixture("thp-her2-positive-metastatic.json")
    drafts, prefetch = split(bundle)
    via_hook = order_from_resources(drafts, prefetch, request_id="hook-1", received_at=NOW,
                                    patient_id="patient-1")
    via_bundle = order_from_bundle(bundle, received_at=NOW)
    assert via_hook.request_id == "hook-1"
    assert via_hook.drugs == via_bundle.drugs
    assert via_hook.diagnosis == via_bundle.diagnosis
    assert via_hook.biomarkers == via_bundle.biomarkers
    assert via_hook.member == via_bundle.member


def test_the_thp_fixture_is_a_medicare_advantage_her2_positive_stage_iv_first_line_case():
    order = order_from_bundle(fixture("thp-her2-positive-metastatic.json"), received_at=NOW)
    assert order.member.line_of_business is LineOfBusiness.MEDICARE_ADVANTAGE
    assert order.member.id == "MA100200300"
    assert order.member.network_status is NetworkStatus.IN_NETWORK
    assert order.ordering_provider.npi == "1234567893"
    assert order.ordering_provider.kind is ProviderKind.INDIVIDUAL
    assert order.ordering_provider.network_status is NetworkStatus.IN_NETWORK
    assert order.servicing_provider.kind is ProviderKind.ORGANIZATION
    assert order.diagnosis.codes[0].code == "C50.912"
    assert (order.diagnosis.stage_group, order.diagnosis.setting) == ("IV", Setting.METASTATIC)
    assert order.diagnosis.line_of_therapy is LineOfTherapy.FIRST
    her2 = order.biomarker("HER2")
    assert (her2.result, her2.method) == (BiomarkerResult.POSITIVE, "IHC")
    assert order.biomarker("ER").result is BiomarkerResult.POSITIVE
    assert order.ecog == 1
    assert [d.codes[0].code for d in order.drugs] == ["72962", "224905", "1298944"]
    assert [(d.dose, d.dose_unit) for d in order.drugs] == [(75.0, "mg/m2"), (8.0, "mg/kg"), (840.0, "mg")]
    assert all(d.cycle_length_days == 21 and d.administration_days == (1,) for d in order.drugs)
    assert [d.until_progression for d in order.drugs] == [False, True, True]
    assert order.treatment_start == date(2026, 12, 1)
    # the record states no risk factor; age and advanced disease are the engine's to work out
    from server.engine.fn_risk import patient_risk_factors
    from server.knowledge.loader import load_knowledge

    kb = load_knowledge()
    assert order.fn_risk_factors == frozenset()
    assert {"age-65-or-older", "advanced-disease"} <= patient_risk_factors(
        order, order.treatment_start, kb.fn_risk_factors, kb.fn_risk_derived)


def test_her2_ihc_1_plus_fixture_is_her2_negative():
    order = order_from_bundle(fixture("trastuzumab-her2-negative.json"), received_at=NOW)
    assert order.biomarker("HER2").result is BiomarkerResult.NEGATIVE


def test_palbociclib_fixture_is_oral_days_1_to_21_of_28_with_daily_letrozole():
    order = order_from_bundle(fixture("palbociclib-hr-positive.json"), received_at=NOW)
    palbo, letrozole = order.drugs
    assert (palbo.route, palbo.cycle_length_days, palbo.administration_days) == ("PO", 28, tuple(range(1, 22)))
    assert (letrozole.route, letrozole.cycle_length_days, letrozole.frequency_per_day) == ("PO", None, 1)
    assert order.biomarker("PR").result is BiomarkerResult.POSITIVE


def test_nsclc_fixture_has_pd_l1_tps_60_and_wild_type_egfr_and_alk():
    order = order_from_bundle(fixture("nsclc-pembrolizumab-pdl1-high.json"), received_at=NOW)
    tps = order.biomarker("PDL1_TPS")
    assert (tps.value, tps.unit, tps.result) == (60.0, "%", BiomarkerResult.POSITIVE)
    assert order.biomarker("EGFR").result is BiomarkerResult.NEGATIVE
    assert order.biomarker("ALK").result is BiomarkerResult.NEGATIVE
    assert order.drugs[0].cycles == 35


def test_colorectal_fixture_reads_mss_as_msi_negative_and_kras_g12d():
    order = order_from_bundle(fixture("colorectal-folfox-bevacizumab.json"), received_at=NOW)
    assert order.biomarker("MSI").result is BiomarkerResult.NEGATIVE
    kras = order.biomarker("KRAS")
    assert (kras.result, kras.variant) == (BiomarkerResult.POSITIVE, "G12D")
    assert [d.cycle_length_days for d in order.drugs] == [14] * 5


def test_supportive_fixture_is_supportive_only_and_points_to_the_earlier_order():
    order = order_from_bundle(fixture("supportive-pegfilgrastim.json"), received_at=NOW)
    assert order.supportive_only is True
    assert order.prior_order_id == "ONC-2026-000123"
    (peg,) = order.drugs
    assert (peg.role, peg.route, peg.administration_days) == (DrugRole.SUPPORTIVE, "SC", (2,))
    assert [c.code for c in peg.codes] == ["338036", "J2506"]


def test_trial_fixture_has_the_nct_id_and_an_investigational_line():
    order = order_from_bundle(fixture("clinical-trial-investigational.json"), received_at=NOW)
    assert order.clinical_trial_nct == "NCT99999999"
    assert [d.role for d in order.drugs][-1] is DrugRole.INVESTIGATIONAL
    assert order.supportive_only is False


def test_commercial_ppo_fixture_is_a_commercial_ppo_member():
    order = order_from_bundle(fixture("thp-commercial-ppo-member.json"), received_at=NOW)
    assert order.member.line_of_business is LineOfBusiness.COMMERCIAL_PPO


# --- record pieces ---------------------------------------------------------------------------

def _coverage(**fields) -> dict:
    base = {"resourceType": "Coverage", "id": "c", "status": "active",
            "beneficiary": {"reference": "Patient/p"}, "payor": [{"display": "Plan"}]}
    base.update(fields)
    return base


@pytest.mark.parametrize("fields,expected", [
    ({"type": {"text": "Medicare Advantage"}}, LineOfBusiness.MEDICARE_ADVANTAGE),
    ({"type": {"text": "Medicare Part C"}}, LineOfBusiness.MEDICARE_ADVANTAGE),
    ({"type": {"coding": [{"system": "https://nahdo.org/sopt", "code": "112"}]}}, LineOfBusiness.MEDICARE_ADVANTAGE),
    ({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "MCAID"}]}},
     LineOfBusiness.MEDICAID),
    ({"type": {"text": "Dual eligible (D-SNP)"}}, LineOfBusiness.DUAL_ELIGIBLE),
    ({"payor": [{"display": "Blue Cross Federal Employee Program"}]}, LineOfBusiness.FEP),
    ({"class": [{"type": {"coding": [{"code": "plan"}]}, "value": "X", "name": "Acme Commercial HMO"}]},
     LineOfBusiness.COMMERCIAL_HMO),
    ({"type": {"text": "PPO"}}, LineOfBusiness.COMMERCIAL_PPO),
    ({"type": {"text": "Supportive care rider"}}, LineOfBusiness.UNKNOWN),   # "ppo" inside a word
    ({}, LineOfBusiness.UNKNOWN),
])
def test_line_of_business_comes_from_the_coverage_table(fields, expected):
    assert coverage_facts(_coverage(**fields), "Coverage").line_of_business is expected


def _cancer_bundle_with(extra: list[dict]) -> dict:
    bundle = fixture("thp-her2-positive-metastatic.json")
    bundle["entry"] += [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(extra)]
    return bundle


def _condition(cid: str, icd: str) -> dict:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/patient-1"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd}]}}


def test_hiv_and_chronic_kidney_disease_conditions_are_fn_risk_factors():
    order = order_from_bundle(_cancer_bundle_with([_condition("hiv", "B20"), _condition("ckd", "N18.4")]),
                              received_at=NOW)
    assert {"hiv-infection", "renal-dysfunction"} <= order.fn_risk_factors
    assert order.diagnosis.codes[0].code == "C50.912"    # the cancer stays first


def test_ecog_2_is_poor_performance_status():
    bundle = fixture("thp-her2-positive-metastatic.json")
    for e in bundle["entry"]:
        if e["resource"]["id"] == "ecog":
            e["resource"]["valueInteger"] = 2
            del e["resource"]["interpretation"]
    order = order_from_bundle(bundle, received_at=NOW)
    from server.engine.fn_risk import patient_risk_factors
    from server.knowledge.loader import load_knowledge

    kb = load_knowledge()
    assert order.ecog == 2
    assert "poor-performance-status" in patient_risk_factors(order, order.treatment_start, kb.fn_risk_factors,
                                                             kb.fn_risk_derived)
    one = replace(order, ecog=1, diagnosis=replace(order.diagnosis, setting=Setting.ADJUVANT))
    assert "poor-performance-status" not in patient_risk_factors(one, one.treatment_start, kb.fn_risk_factors,
                                                                 kb.fn_risk_derived)


def test_without_stage_secondary_cancer_or_intent_the_setting_is_unknown():
    bundle = fixture("thp-her2-positive-metastatic.json")
    bundle["entry"] = [e for e in bundle["entry"]
                       if e["resource"]["id"] not in ("secondary-cancer", "stage-group")]
    for e in bundle["entry"]:
        r = e["resource"]
        if r["id"] == "primary-cancer":
            del r["stage"]
        if r["resourceType"] == "MedicationRequest":
            del r["extension"]
    order = order_from_bundle(bundle, received_at=NOW)
    assert order.diagnosis.stage_group is None
    assert order.diagnosis.setting is Setting.UNKNOWN


def test_neoadjuvant_intent_sets_the_setting_when_the_disease_is_not_metastatic():
    drafts, prefetch = split(fixture("thp-her2-positive-metastatic.json"))
    for d in drafts:
        d["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "373847000"
    prefetch = [b for b in prefetch if b["entry"][0]["resource"]["resourceType"] not in ("Condition", "Observation")]
    order = order_from_resources(drafts, prefetch, request_id="h", received_at=NOW)
    assert order.diagnosis.setting is Setting.NEOADJUVANT
    assert order.diagnosis.line_of_therapy is LineOfTherapy.UNKNOWN
    assert order.ecog is None and order.biomarkers == ()


def test_resources_of_another_patient_are_ignored_when_the_patient_id_is_given():
    drafts, prefetch = split(fixture("thp-her2-positive-metastatic.json"))
    other = {"resourceType": "Observation", "id": "x", "status": "final",
             "subject": {"reference": "Patient/someone-else"},
             "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
             "effectiveDateTime": "2026-11-19", "valueInteger": 4}
    order = order_from_resources(drafts, prefetch + [other], request_id="h", received_at=NOW,
                                 patient_id="patient-1")
    assert order.ecog == 1


def test_an_urgent_priority_on_a_draft_order_makes_the_request_urgent():
    drafts, prefetch = split(fixture("thp-her2-positive-metastatic.json"))
    drafts[0]["priority"] = "urgent"
    assert order_from_resources(drafts, prefetch, request_id="h", received_at=NOW).urgency is Urgency.URGENT


def test_a_requester_that_is_not_sent_keeps_its_kind_without_an_npi():
    drafts, _ = split(fixture("thp-her2-positive-metastatic.json"))
    order = order_from_resources(drafts, [], request_id="h", received_at=NOW)
    assert order.ordering_provider.kind is ProviderKind.INDIVIDUAL
    assert order.ordering_provider.npi is None
    assert order.member.line_of_business is LineOfBusiness.UNKNOWN


def test_a_malformed_prefetched_condition_is_a_bad_request_with_its_path():
    drafts, prefetch = split(fixture("thp-her2-positive-metastatic.json"))
    cond_bundle = next(i for i, b in enumerate(prefetch) if b["entry"][0]["resource"]["resourceType"] == "Condition")
    prefetch[cond_bundle]["entry"][0]["resource"]["onsetDateTime"] = "last spring"
    with pytest.raises(BadRequest) as err:
        order_from_resources(drafts, prefetch, request_id="h", received_at=NOW)
    assert err.value.issues[0].expression == [f"resources[{cond_bundle}].entry[0].resource.onsetDateTime"]


def test_a_draft_order_that_is_not_a_resource_is_a_bad_request():
    with pytest.raises(BadRequest) as err:
        order_from_resources([{"id": "x"}], [], request_id="h", received_at=NOW)
    assert err.value.issues[0].expression == ["draftOrders[0]"]


def test_observations_the_tables_do_not_know_are_not_validated():
    drafts, prefetch = split(fixture("thp-her2-positive-metastatic.json"))
    junk = {"resourceType": "Observation", "id": "bp", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "valueQuantity": {"value": "not a number"}}
    order = order_from_resources(drafts, prefetch + [junk], request_id="h", received_at=NOW)
    assert order.ecog == 1


def test_a_bundle_that_is_not_a_bundle_is_a_bad_request():
    with pytest.raises(BadRequest) as err:
        order_from_bundle({"resourceType": "Patient"}, received_at=NOW)
    assert err.value.issues[0].expression == ["Bundle"]


def test_her2_ihc_2_plus_is_equivocal_and_an_amplified_ish_result_decides():
    ihc = {"resourceType": "Observation", "id": "ihc", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "85319-2"}]},
           "effectiveDateTime": "2026-10-08", "valueCodeableConcept": {"text": "2+"}}
    drafts, _ = split(fixture("thp-her2-positive-metastatic.json"))
    order = order_from_resources(drafts, [ihc], request_id="h", received_at=NOW)
    assert order.biomarker("HER2").result is BiomarkerResult.EQUIVOCAL
    ish = {"resourceType": "Observation", "id": "ish", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "85318-4"}]},
           "effectiveDateTime": "2026-10-08", "valueCodeableConcept": {"text": "Amplified"}}
    order = order_from_resources(drafts, [ihc, ish], request_id="h", received_at=NOW)
    her2 = order.biomarker("HER2")
    assert (her2.result, her2.method) == (BiomarkerResult.POSITIVE, "ISH")


def test_not_detected_is_negative_and_not_read_as_detected():
    obs = {"resourceType": "Observation", "id": "alk", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "78205-2"}]},
           "valueString": "ALK rearrangement not detected"}
    drafts, _ = split(fixture("thp-her2-positive-metastatic.json"))
    order = order_from_resources(drafts, [obs], request_id="h", received_at=NOW)
    assert order.biomarker("ALK").result is BiomarkerResult.NEGATIVE


def test_a_diagnosis_named_only_on_the_order_reason_code_is_used():
    drafts, _ = split(fixture("thp-her2-positive-metastatic.json"))
    for d in drafts:
        del d["reasonReference"]
        d["reasonCode"] = [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C50.912"}]}]
    order = order_from_resources(drafts, [], request_id="h", received_at=NOW)
    assert [c.code for c in order.diagnosis.codes] == ["C50.912"]


def test_odd_json_in_resources_the_mapping_does_not_validate_never_crashes_it():
    drafts, prefetch = split(fixture("thp-her2-positive-metastatic.json"))
    odd = [{"resourceType": "ResearchSubject", "id": "rs", "study": "NCT12345678"},
           {"resourceType": "Observation", "id": "o", "code": "ECOG"},
           {"resourceType": "Procedure", "id": "pr", "meta": "radiotherapy", "status": "completed"},
           {"resourceType": "RequestGroup", "id": "rg", "extension": ["1L"]}]
    order = order_from_resources(drafts, prefetch + odd, request_id="h", received_at=NOW)
    assert order.clinical_trial_nct is None and order.ecog == 1


def test_an_observation_whose_coding_system_or_code_is_an_object_is_skipped_not_a_crash():
    from datetime import datetime, timezone

    from mappings import order_from_resources

    bad = {"resourceType": "Observation", "id": "x", "status": "final",
           "code": {"coding": [{"system": {"not": "a string"}, "code": {"also": "wrong"}}]},
           "subject": {"reference": "Patient/p1"}}
    order = order_from_resources([], [bad], request_id="r1",
                                 received_at=datetime(2026, 11, 22, tzinfo=timezone.utc), patient_id="p1")
    assert order.biomarkers == ()
    assert order.ecog is None

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
