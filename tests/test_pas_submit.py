"""POST /fhir/Claim/$submit end to end: official PAS examples, oncology fixtures, idempotency,
updates and cancels. Every answer is checked for content, not only for a 200."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from server.domain.decision import CaseStatus

FHIR_JSON = "application/fhir+json"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pas"
PAS_EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "examples" / "pas-2.2.1"
REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"
PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"

REQUEST_EXAMPLES = [
    "Bundle-HomecareAuthorizationBundleExample.json",
    "Bundle-HomecareAuthorizationUpdateBundleExample.json",
    "Bundle-MedicalServicesAuthorizationBundleExample.json",
    "Bundle-ReferralAuthorizationBundleExample.json",
    "Bundle-SurgicalRequestBundleExample.json",
]


# ------------------------------------------------------------------------------------ helpers

def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def load_example(name: str) -> dict:
    return json.loads((PAS_EXAMPLES / name).read_text())


def submit(client, bundle: dict | str | bytes, content_type: str = FHIR_JSON):
    data = bundle if isinstance(bundle, (str, bytes)) else json.dumps(bundle)
    return client.post("/fhir/Claim/$submit", data=data, content_type=content_type)


def claim_response(body: dict) -> dict:
    return body["entry"][0]["resource"]


def review_action(item: dict) -> tuple[str, str | None]:
    """(X12 306 code, number) of a ClaimResponse item."""
    for adjudication in item["adjudication"]:
        for ext in adjudication.get("extension", []):
            if ext["url"] == REVIEW_ACTION:
                subs = {s["url"].rsplit("-", 1)[-1] if s["url"].startswith("http") else s["url"]: s
                        for s in ext["extension"]}
                code = subs["reviewActionCode"]["valueCodeableConcept"]["coding"][0]
                assert code["system"] == "https://codesystem.x12.org/005010/306"
                return code["code"], subs.get("number", {}).get("valueString")
    raise AssertionError("item without a reviewAction")


def actions(body: dict) -> dict[int, str]:
    return {item["itemSequence"]: review_action(item)[0] for item in claim_response(body)["item"]}


def item_extension(item: dict, name: str):
    return next((e for e in item.get("extension", []) if e["url"] == PAS_SD + f"extension-{name}"), None)


def notes(body: dict) -> list[str]:
    return [n["text"] for n in claim_response(body).get("processNote", [])]


# The fixtures ask for treatment from 2026-12-01; pin the clock so that the requests stay
# prospective (R9) whatever day the tests run.
REQUEST_TIME = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def pin_clock(app):
    app.extensions["oncopath.clock"] = lambda: REQUEST_TIME
    return app


@pytest.fixture
def pas_app(app):
    """The app with the bundled knowledge base and a pinned clock."""
    assert "oncopath.knowledge" in app.extensions
    return pin_clock(app)


@pytest.fixture
def pas_client(pas_app):
    return pas_app.test_client()


@pytest.fixture
def store(pas_app):
    return pas_app.extensions["oncopath.store"]


# ----------------------------------------------------------------------------- official examples

@pytest.mark.parametrize("name", REQUEST_EXAMPLES)
def test_every_official_pas_request_example_gets_a_conformant_response_bundle(pas_client, store, name):
    request_bundle = load_example(name)
    resp = submit(pas_client, request_bundle)
    assert resp.status_code == 200, resp.get_json()
    assert resp.mimetype == FHIR_JSON
    body = resp.get_json()
    assert body["resourceType"] == "Bundle" and body["type"] == "collection"
    assert body["identifier"] == request_bundle["identifier"]
    assert body["timestamp"]
    assert all(e.get("fullUrl") for e in body["entry"])
    cr = claim_response(body)
    assert cr["resourceType"] == "ClaimResponse"
    assert (cr["status"], cr["use"]) == ("active", "preauthorization")
    assert cr["outcome"] in ("complete", "partial")
    claim = request_bundle["entry"][0]["resource"]
    assert cr["request"]["identifier"] == claim["identifier"][0]
    assert [i["itemSequence"] for i in cr["item"]] == [i["sequence"] for i in claim["item"]]
    for item in cr["item"]:
        category = item["adjudication"][0]["category"]["coding"][0]
        assert (category["system"], category["code"]) == ("http://terminology.hl7.org/CodeSystem/adjudication", "submitted")
        assert review_action(item)[0] in {"A1", "A4", "NA", "C"}
    # Patient, insurer and requestor travel with the ClaimResponse.
    copied = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body["entry"][1:]}
    assert {cr["patient"]["reference"], cr["insurer"]["reference"], cr["requestor"]["reference"]} <= copied
    assert store.counts()["cases"] == 1


@pytest.mark.parametrize("name", ["Bundle-HomecareAuthorizationBundleExample.json",
                                  "Bundle-MedicalServicesAuthorizationBundleExample.json",
                                  "Bundle-ReferralAuthorizationBundleExample.json"])
def test_non_oncology_services_answer_no_action_and_name_the_health_plan(pas_client, name):
    body = submit(pas_client, load_example(name)).get_json()
    assert set(actions(body).values()) == {"NA"}
    assert claim_response(body)["outcome"] == "complete"
    assert "preAuthRef" not in claim_response(body)
    assert any("health plan" in n for n in notes(body))


def test_the_official_update_example_without_its_original_on_file_is_decided_as_a_new_case(pas_client, store):
    body = submit(pas_client, load_example("Bundle-HomecareAuthorizationUpdateBundleExample.json")).get_json()
    assert actions(body) == {1: "NA", 2: "C", 3: "NA"}   # item 2 carries certificationType 3
    assert store.counts()["cases"] == 1


def test_the_official_update_example_updates_its_original_when_that_is_on_file(pas_client, store):
    first = submit(pas_client, load_example("Bundle-HomecareAuthorizationBundleExample.json")).get_json()
    update = submit(pas_client, load_example("Bundle-HomecareAuthorizationUpdateBundleExample.json")).get_json()
    order_id = claim_response(first)["id"]
    assert claim_response(update)["id"] == order_id
    assert actions(update) == {1: "NA", 2: "C", 3: "NA"}
    assert store.counts()["cases"] == 1
    assert [e.kind for e in store.case_events(order_id)] == ["created", "updated"]


def test_a_surgical_procedure_for_a_cancer_patient_is_not_a_drug_review(pas_client):
    body = submit(pas_client, load_example("Bundle-SurgicalRequestBundleExample.json")).get_json()
    assert actions(body) == {1: "NA"}
    assert "preAuthRef" not in claim_response(body)
    assert any("health plan" in n for n in notes(body))
    assert not any("pathway" in n.lower() for n in notes(body))


# ------------------------------------------------------------------------------ oncology fixtures

def test_thp_for_her2_positive_metastatic_breast_cancer_is_authorized_on_pathway(pas_client, store):
    body = submit(pas_client, load_fixture("thp-her2-positive")).get_json()
    cr = claim_response(body)
    order_id = cr["id"]
    assert order_id.startswith("ONC-")
    assert actions(body) == {1: "A1", 2: "A1", 3: "A1"}
    assert cr["outcome"] == "complete"
    assert cr["preAuthRef"] == order_id
    assert cr["preAuthPeriod"]["start"] == "2026-12-01"
    assert cr["created"] == REQUEST_TIME.isoformat()
    trastuzumab = cr["item"][1]
    assert review_action(trastuzumab) == ("A1", order_id)
    assert item_extension(trastuzumab, "itemPreAuthPeriod")["valuePeriod"]["start"] == "2026-12-01"
    detail = {e["url"]: e for e in item_extension(trastuzumab, "itemAuthorizedDetail")["extension"]}
    assert detail["productOrServiceCode"]["valueCodeableConcept"]["coding"][0]["code"] == "J9355"
    assert detail["quantity"]["valueQuantity"]["value"] > 0
    text = " ".join(notes(body))
    assert "Pathway Eligible ID: PE-" in text
    assert "S0353 billable from 2026-12-01" in text
    assert store.get_case(order_id).status == CaseStatus.AUTHORIZED.value


def test_trastuzumab_for_a_her2_negative_tumour_is_pended_never_denied(pas_client, store):
    body = submit(pas_client, load_fixture("trastuzumab-her2-negative")).get_json()
    cr = claim_response(body)
    assert actions(body) == {1: "A4"}
    assert cr["outcome"] == "complete"          # the IG's pended example: complete + A4
    assert "preAuthRef" not in cr
    assert item_extension(cr["item"][0], "administrationReferenceNumber")["valueString"] == cr["id"]
    assert any("HER2" in n and "Pended for clinical review" in n for n in notes(body))
    assert store.get_case(cr["id"]).status == CaseStatus.IN_PROGRESS.value


def test_oral_palbociclib_and_letrozole_answer_no_action_and_name_the_pharmacy_benefit_manager(pas_client):
    body = submit(pas_client, load_fixture("palbociclib-letrozole-oral")).get_json()
    assert actions(body) == {1: "NA", 2: "NA"}
    palbo = next(n for n in notes(body) if n.lower().startswith("palbociclib"))
    assert "Other Impact" in palbo and "pharmacy" in palbo.lower()


def test_a_pended_drug_next_to_a_decided_one_makes_the_outcome_partial(pas_client):
    body = submit(pas_client, load_fixture("mixed-trastuzumab-her2-unknown-letrozole")).get_json()
    assert actions(body) == {1: "A4", 2: "NA"}
    assert claim_response(body)["outcome"] == "partial"


def test_a_parameters_wrapper_around_the_bundle_is_accepted(pas_client):
    wrapped = {"resourceType": "Parameters",
               "parameter": [{"name": "resource", "resource": load_fixture("thp-her2-positive")}]}
    resp = submit(pas_client, wrapped, content_type="application/json")
    assert resp.status_code == 200
    assert actions(resp.get_json()) == {1: "A1", 2: "A1", 3: "A1"}


# ------------------------------------------------------------------------------------ idempotency

def test_resubmitting_the_same_claim_returns_the_original_response_and_no_second_case(pas_client, store):
    first = submit(pas_client, load_fixture("thp-her2-positive"))
    second = submit(pas_client, load_fixture("thp-her2-positive"))
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert store.counts()["cases"] == 1
    assert store.counts()["case_events"] == 1


def set_submitter_npi(bundle: dict, npi: str) -> dict:
    for e in bundle["entry"]:
        if e["resource"]["id"] == "onc-clinic":
            e["resource"]["identifier"][0]["value"] = npi
    return bundle


def test_another_submitter_reusing_a_claim_identifier_gets_its_own_case_not_the_stored_answer(pas_client, store):
    first = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    resp = submit(pas_client, set_submitter_npi(load_fixture("thp-her2-positive"), "1679576722"))
    assert resp.status_code == 200
    second = claim_response(resp.get_json())
    assert second["id"] != first["id"]
    assert store.counts()["cases"] == 2
    assert store.get_case(second["id"]).provider_npi == "1679576722"
    created = store.case_events(second["id"])[0]
    assert "identifier reused" in created.note and first["id"] in created.note


def test_a_retry_with_a_new_bundle_timestamp_gets_the_first_answer_and_no_second_case(pas_client, store):
    first = submit(pas_client, load_fixture("thp-her2-positive")).get_json()
    retry = load_fixture("thp-her2-positive")
    retry["timestamp"] = "2026-12-01T09:30:00Z"
    retry["identifier"]["value"] = "another-transmission-id"
    again = submit(pas_client, retry)
    assert again.status_code == 200 and again.get_json() == first
    assert store.counts()["cases"] == 1


def test_a_different_request_reusing_a_claim_identifier_is_decided_as_the_request_it_is(pas_client, store):
    two_items = load_fixture("thp-her2-positive")
    first = claim_response(submit(pas_client, two_items).get_json())
    one_item = load_fixture("thp-her2-positive")
    claim = one_item["entry"][0]["resource"]
    claim["item"] = claim["item"][:1]
    second = claim_response(submit(pas_client, one_item).get_json())
    assert second["id"] != first["id"]
    assert len(second["item"]) == 1 and len(first["item"]) == len(two_items["entry"][0]["resource"]["item"])
    assert store.counts()["cases"] == 2
    # each one's retry gets its own first answer
    assert claim_response(submit(pas_client, one_item).get_json())["id"] == second["id"]
    assert claim_response(submit(pas_client, two_items).get_json())["id"] == first["id"]
    assert store.counts()["cases"] == 2


# ----------------------------------------------------------------------------- updates, cancels

def test_another_provider_cannot_update_or_cancel_the_case(pas_client, store):
    first = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    resp = submit(pas_client, set_submitter_npi(load_fixture("thp-her2-positive-cancel"), "1679576722"))
    assert resp.status_code == 422
    assert resp.get_json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.related"]
    assert store.get_case(first["id"]).status == CaseStatus.AUTHORIZED.value
    assert len(store.case_events(first["id"])) == 1


def test_an_update_adding_a_supportive_drug_decides_the_whole_case_again_under_the_same_order_id(pas_client, store):
    first = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    resp = submit(pas_client, load_fixture("thp-her2-positive-update-add-pegfilgrastim"))
    assert resp.status_code == 200
    body = resp.get_json()
    cr = claim_response(body)
    assert cr["id"] == first["id"]
    assert sorted(actions(body)) == [1, 2, 3, 4]
    assert actions(body)[4] in {"A1", "A4"}       # pegfilgrastim is reviewed with the regimen
    assert not any("Duplicate Order" in n for n in notes(body))   # the case is not its own duplicate
    assert store.counts()["cases"] == 1
    assert [e.kind for e in store.case_events(first["id"])] == ["created", "updated"]
    assert store.audit_trail(first["id"])[-1].action == "case.updated"
    # the update request is idempotent too
    again = submit(pas_client, load_fixture("thp-her2-positive-update-add-pegfilgrastim")).get_json()
    assert again == body
    assert len(store.case_events(first["id"])) == 2


def test_cancelling_every_item_withdraws_the_case(pas_client, store):
    first = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    body = submit(pas_client, load_fixture("thp-her2-positive-cancel")).get_json()
    assert actions(body) == {1: "C", 2: "C", 3: "C"}
    assert "preAuthRef" not in claim_response(body)
    record = store.get_case(first["id"])
    assert record.status == CaseStatus.REVIEW_CANCELLED.value
    assert {d.status.value for d in record.decision_obj().drugs} == {"Voluntarily Cancelled"}
    assert [e.kind for e in store.case_events(first["id"])] == ["created", "cancelled"]
    # a retry of the original submission still gets the original answer
    retry = submit(pas_client, load_fixture("thp-her2-positive")).get_json()
    assert actions(retry) == {1: "A1", 2: "A1", 3: "A1"}


def test_cancelling_one_item_cancels_that_drug_and_keeps_the_rest(pas_client, store):
    first = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    update = load_fixture("thp-her2-positive-update-add-pegfilgrastim")
    claim = update["entry"][0]["resource"]
    for ext in claim["item"][3]["extension"]:
        if ext["url"].endswith("certificationType"):
            ext["valueCodeableConcept"]["coding"][0]["code"] = "3"
    body = submit(pas_client, update).get_json()
    assert actions(body)[4] == "C"
    assert all(actions(body)[i] in {"A1", "A4"} for i in (1, 2, 3))
    drugs = {d.ref: d.status.value for d in store.get_case(first["id"]).decision_obj().drugs}
    assert drugs["item/4"] == "Voluntarily Cancelled"


def test_a_denied_case_cannot_be_updated(pas_client, store):
    first = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    store.update_case_status(first["id"], CaseStatus.NON_AUTHORIZED, actor="md:reviewer-1",
                             note="not medically necessary after peer-to-peer")
    before = store.counts()
    resp = submit(pas_client, load_fixture("thp-her2-positive-update-add-pegfilgrastim"))
    assert resp.status_code == 422
    issue = resp.get_json()["issue"][0]
    assert issue["code"] == "business-rule" and "Non-Authorized" in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[0].resource.related"]
    assert store.counts() == before


def test_submit_resubmit_update_and_cancel_work_the_same_on_postgresql(postgres_url):
    from server.app import create_app

    app = pin_clock(create_app({"TESTING": True, "DATABASE_URL": postgres_url}))
    client, pg_store = app.test_client(), app.extensions["oncopath.store"]
    first = submit(client, load_fixture("thp-her2-positive")).get_json()
    assert actions(first) == {1: "A1", 2: "A1", 3: "A1"}
    assert submit(client, load_fixture("thp-her2-positive")).get_json() == first
    order_id = claim_response(first)["id"]
    assert claim_response(submit(client, load_fixture("thp-her2-positive-update-add-pegfilgrastim")).get_json())["id"] == order_id
    assert actions(submit(client, load_fixture("thp-her2-positive-cancel")).get_json()) == {1: "C", 2: "C", 3: "C"}
    assert pg_store.counts()["cases"] == 1
    assert [e.kind for e in pg_store.case_events(order_id)] == ["created", "updated", "cancelled"]
    assert pg_store.get_case(order_id).status == CaseStatus.REVIEW_CANCELLED.value
    pg_store.dispose()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
