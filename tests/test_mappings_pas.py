"""Da Vinci PAS request Bundle -> Order: the official 2.2.1 examples and an oncology claim."""
from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from mappings import order_from_bundle, order_from_pas_bundle
from server.domain.order import (
    BiomarkerResult, DrugRole, LineOfBusiness, LineOfTherapy, ProviderKind, Setting, Urgency,
)
from server.errors import BadRequest

REPO = Path(__file__).resolve().parents[1]
PAS_DIR = REPO.parent / "shared" / "examples" / "pas-2.2.1"
FIXTURE = REPO / "fixtures" / "bundles" / "pas-thp-her2-positive.json"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def _request_bundles() -> list[str]:
    """The example Bundles whose first entry is a preauthorization Claim (request Bundles)."""
    names = []
    for path in sorted(PAS_DIR.glob("Bundle-*.json")):
        data = json.loads(path.read_text())
        first = ((data.get("entry") or [{}])[0]).get("resource", {})
        if first.get("resourceType") == "Claim" and first.get("use") == "preauthorization":
            names.append(path.name)
    return names


REQUEST_BUNDLES = _request_bundles() if PAS_DIR.is_dir() else []


def load(name: str) -> dict:
    return json.loads((PAS_DIR / name).read_text())


def thp() -> dict:
    return json.loads(FIXTURE.read_text())


def claim_of(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


@pytest.mark.skipif(not PAS_DIR.is_dir(), reason="shared/examples not beside the repo")
def test_the_pas_examples_hold_six_claim_first_preauthorization_bundles():
    assert REQUEST_BUNDLES == [
        "Bundle-HomecareAuthorizationBundleExample.json",
        "Bundle-HomecareAuthorizationUpdateBundleExample.json",
        "Bundle-MedicalServicesAuthorizationBundleExample.json",
        "Bundle-PASClaimInquiryBundleExample.json",
        "Bundle-ReferralAuthorizationBundleExample.json",
        "Bundle-SurgicalRequestBundleExample.json",
    ]


@pytest.mark.parametrize("name", REQUEST_BUNDLES)
def test_every_pas_request_example_maps_each_item_to_a_line_with_its_codes(name):
    bundle = load(name)
    order = order_from_pas_bundle(bundle, received_at=NOW)
    claim = claim_of(bundle)
    live = [i for i in claim["item"] if not any(
        e.get("valueBoolean") for e in i.get("modifierExtension", []))]
    assert [d.ref for d in order.drugs] == [f"item/{i['sequence']}" for i in live]
    for item, line in zip(live, order.drugs):
        sent = [(c["system"], c["code"]) for c in item["productOrService"]["coding"]]
        assert [(c.system, c.code) for c in line.codes][:len(sent)] == sent
        # Services (home health, visits, surgery) are lines too: nothing marks them as drugs.
        assert line.role is DrugRole.UNKNOWN and line.dose is None
    assert order.request_id == claim["identifier"][0]["value"]
    assert order.member.id == "1122334455"                    # Coverage.subscriberId
    assert order.member.line_of_business is LineOfBusiness.UNKNOWN
    assert order.payer_id == "1234567893"                     # the insurer's NPI


@pytest.mark.skipif(not PAS_DIR.is_dir(), reason="shared/examples not beside the repo")
def test_medical_services_example_starts_on_its_serviced_date_ordered_by_the_requestor_organization():
    order = order_from_pas_bundle(load("Bundle-MedicalServicesAuthorizationBundleExample.json"), received_at=NOW)
    assert order.treatment_start == date(2005, 5, 10)
    assert order.drugs[0].codes[0].code == "99212"
    # No care team: the requestor organization is all there is (the engine applies R13).
    assert order.ordering_provider.kind is ProviderKind.ORGANIZATION
    assert order.ordering_provider.npi == "8189991234"
    assert order.urgency is Urgency.STANDARD


@pytest.mark.skipif(not PAS_DIR.is_dir(), reason="shared/examples not beside the repo")
def test_referral_example_is_urgent_and_ordered_by_the_care_team_practitioner():
    order = order_from_pas_bundle(load("Bundle-ReferralAuthorizationBundleExample.json"), received_at=NOW)
    assert order.urgency is Urgency.URGENT                    # levelOfServiceCode U
    assert order.ordering_provider.kind is ProviderKind.INDIVIDUAL
    assert order.ordering_provider.npi == "1234567893"        # via PractitionerRole -> Practitioner
    assert order.ordering_provider.name == "SUSAN WATSON"
    assert order.servicing_provider.npi == "8189991234"
    assert order.servicing_provider.kind is ProviderKind.ORGANIZATION
    # G89.4 (chronic pain) is kept as the diagnosis sent; it is not a cancer, so no stage/setting.
    assert [c.code for c in order.diagnosis.codes] == ["G89.4"]
    assert order.diagnosis.setting is Setting.UNKNOWN


@pytest.mark.skipif(not PAS_DIR.is_dir(), reason="shared/examples not beside the repo")
def test_surgical_example_keeps_its_colon_cancer_diagnosis_and_cpt_service_line():
    order = order_from_pas_bundle(load("Bundle-SurgicalRequestBundleExample.json"), received_at=NOW)
    assert [(c.system, c.code) for c in order.diagnosis.codes] == [("http://hl7.org/fhir/sid/icd-10-cm", "C18.9")]
    # CPT 33510 sent under the HCPCS system: kept as sent, and named as the CPT service it is.
    assert [(c.system, c.code) for c in order.drugs[0].codes] == [
        (HCPCS, "33510"), ("http://www.ama-assn.org/go/cpt", "33510")]
    # The care team's role points to a Practitioner not sent: an individual without an NPI.
    assert order.ordering_provider.kind is ProviderKind.INDIVIDUAL and order.ordering_provider.npi is None


@pytest.mark.skipif(not PAS_DIR.is_dir(), reason="shared/examples not beside the repo")
def test_update_example_refers_to_the_prior_request_and_drops_the_cancelled_item():
    order = order_from_pas_bundle(load("Bundle-HomecareAuthorizationUpdateBundleExample.json"), received_at=NOW)
    assert order.prior_order_id == "111099"                   # related.claim -> the original's identifier
    assert [d.ref for d in order.drugs] == ["item/1", "item/3"]


def test_oncology_claim_maps_items_to_hcpcs_lines_with_units_dates_and_the_requested_schedule():
    order = order_from_pas_bundle(thp(), received_at=NOW)
    assert order.request_id == "PA-THP-0001"
    assert [d.ref for d in order.drugs] == ["item/1", "item/2", "item/3"]
    assert [d.codes[0].code for d in order.drugs] == ["J9171", "J9355", "J9306"]
    assert [d.codes[0].system for d in order.drugs] == [HCPCS] * 3
    assert all(c.system != "http://www.ama-assn.org/go/cpt" for d in order.drugs for c in d.codes)
    assert [d.codes[1].code for d in order.drugs] == ["72962", "224905", "1298944"]  # from requestedService
    docetaxel = order.drugs[0]
    assert (docetaxel.quantity, docetaxel.dose, docetaxel.dose_unit) == (840.0, 75.0, "mg/m2")
    assert (docetaxel.cycle_length_days, docetaxel.cycles, docetaxel.administration_days) == (21, 6, (1,))
    assert order.drugs[1].until_progression is True
    assert order.treatment_start == date(2026, 12, 1)
    assert order.drugs[0].end == date(2027, 5, 31)


def test_oncology_claim_reads_diagnosis_supporting_observations_and_providers():
    order = order_from_pas_bundle(thp(), received_at=NOW)
    assert order.diagnosis.codes[0].code == "C50.912"
    assert order.diagnosis.stage_group == "IV"
    assert order.diagnosis.setting is Setting.METASTATIC
    assert order.diagnosis.line_of_therapy is LineOfTherapy.FIRST
    assert [c.code for c in order.diagnosis.metastatic_sites] == ["C78.7", "94381002"]
    assert order.biomarker("HER2").result is BiomarkerResult.POSITIVE
    assert order.ecog == 1
    assert order.ordering_provider.npi == "1234567893"
    assert order.ordering_provider.kind is ProviderKind.INDIVIDUAL
    assert order.servicing_provider.npi == "1245319599"
    assert order.member.line_of_business is LineOfBusiness.MEDICARE_ADVANTAGE
    assert order.member.id == "MA100200300"
    assert order.urgency is Urgency.STANDARD


def test_urgent_level_of_service_and_a_trial_in_a_free_form_message():
    bundle = thp()
    claim = claim_of(bundle)
    claim["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "U"
    claim["supportingInfo"].append({
        "sequence": 99, "category": {"coding": [{
            "system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes", "code": "freeFormMessage"}]},
        "valueString": "Patient enrolled in trial NCT99999999; XYZ-101 is investigational."})
    order = order_from_pas_bundle(bundle, received_at=NOW)
    assert order.urgency is Urgency.URGENT
    assert order.clinical_trial_nct == "NCT99999999"


def test_a_q0_modifier_marks_an_investigational_item():
    bundle = thp()
    claim_of(bundle)["item"][2]["modifier"] = [{"coding": [{"system": HCPCS, "code": "Q0"}]}]
    order = order_from_pas_bundle(bundle, received_at=NOW)
    assert order.drugs[2].role is DrugRole.INVESTIGATIONAL
    assert order.drugs[0].role is DrugRole.THERAPEUTIC


def test_order_from_bundle_sends_a_claim_first_bundle_to_the_pas_mapping():
    order = order_from_bundle(thp(), received_at=NOW)
    assert order.drugs[0].ref == "item/1"


def test_the_input_bundle_is_not_modified():
    bundle = thp()
    before = copy.deepcopy(bundle)
    order_from_pas_bundle(bundle, received_at=NOW)
    assert bundle == before


# --- malformed input -------------------------------------------------------------------------

def test_a_bundle_without_a_claim_first_is_a_bad_request_at_entry_0():
    bundle = thp()
    bundle["entry"].append(bundle["entry"].pop(0))
    with pytest.raises(BadRequest) as err:
        order_from_pas_bundle(bundle, received_at=NOW)
    assert err.value.issues[0].expression == ["Bundle.entry[0].resource"]


def test_a_claim_item_with_a_text_sequence_is_a_bad_request_naming_the_item():
    bundle = thp()
    claim_of(bundle)["item"][1]["sequence"] = "two"
    with pytest.raises(BadRequest) as err:
        order_from_pas_bundle(bundle, received_at=NOW)
    assert err.value.status == 400
    assert err.value.issues[0].code == "structure"
    assert err.value.issues[0].expression == ["Bundle.entry[0].resource.item[1].sequence"]


def test_a_malformed_supporting_observation_is_a_bad_request_with_its_entry_path():
    bundle = thp()
    index = next(i for i, e in enumerate(bundle["entry"]) if e["resource"].get("id") == "ecog")
    bundle["entry"][index]["resource"]["valueInteger"] = "one"
    with pytest.raises(BadRequest) as err:
        order_from_pas_bundle(bundle, received_at=NOW)
    assert err.value.issues[0].expression == [f"Bundle.entry[{index}].resource.valueInteger"]


def test_an_entry_without_a_resource_is_a_bad_request():
    bundle = thp()
    bundle["entry"][3] = {"fullUrl": "urn:uuid:0"}
    with pytest.raises(BadRequest) as err:
        order_from_pas_bundle(bundle, received_at=NOW)
    assert err.value.issues[0].expression == ["Bundle.entry[3].resource"]


def test_a_transaction_bundle_is_not_a_pas_request():
    bundle = thp()
    bundle["type"] = "transaction"
    with pytest.raises(BadRequest) as err:
        order_from_pas_bundle(bundle, received_at=NOW)
    assert err.value.issues[0].expression == ["Bundle.type"]


def test_a_non_cancer_claim_diagnosis_such_as_hiv_is_an_fn_risk_factor_after_the_cancer():
    bundle = thp()
    claim_of(bundle)["diagnosis"].append({"sequence": 3, "diagnosisCodeableConcept": {"coding": [
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "B20"}]}})
    order = order_from_pas_bundle(bundle, received_at=NOW)
    assert "hiv-infection" in order.fn_risk_factors
    assert [c.code for c in order.diagnosis.codes][:1] == ["C50.912"]
    assert "B20" in [c.code for c in order.diagnosis.codes]


def test_urn_uuid_references_resolve_and_the_member_is_the_claims_patient_not_the_subscriber():
    bundle = thp()
    uuids = {}
    for i, entry in enumerate(bundle["entry"]):
        r = entry["resource"]
        uuids[f"{r['resourceType']}/{r['id']}"] = entry["fullUrl"] = f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
    text = json.dumps(bundle)
    for ref, urn in uuids.items():
        text = text.replace(f'"reference": "{ref}"', f'"reference": "{urn}"')
    bundle = json.loads(text)
    for entry in bundle["entry"]:
        if entry["resource"]["id"] == "primary-cancer":   # the referenced assessment must win
            entry["resource"]["stage"][0]["summary"] = {"text": "stage IIIA"}
    subscriber = {"resourceType": "Patient", "id": "subscriber", "birthDate": "1950-01-01",
                  "identifier": [{"system": "http://example.org/MIN", "value": "SUB-1"}]}
    bundle["entry"].insert(1, {"fullUrl": "urn:uuid:00000000-0000-4000-8000-999999999999", "resource": subscriber})
    order = order_from_pas_bundle(bundle, received_at=NOW)
    assert order.member.birth_date == date(1957, 3, 14)
    assert order.ordering_provider.npi == "1234567893"
    assert order.drugs[0].cycles == 6                        # requestedService via urn:uuid
    assert order.biomarker("HER2").result is BiomarkerResult.POSITIVE
    assert order.member.line_of_business is LineOfBusiness.MEDICARE_ADVANTAGE
    assert order.diagnosis.stage_group == "IV"

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
