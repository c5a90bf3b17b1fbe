"""POST /fhir/Claim/$inquire and GET /fhir/metadata."""
from __future__ import annotations

import json

import pytest

from test_pas_submit import (  # noqa: F401  (fixtures)
    actions, claim_response, load_example, load_fixture, pas_app, pas_client, store, submit,
)

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"


def inquire(client, bundle):
    return client.post("/fhir/Claim/$inquire", data=json.dumps(bundle), content_type="application/fhir+json")


def returned_bundles(parameters: dict) -> list[dict]:
    assert parameters["resourceType"] == "Parameters"
    return [p["resource"] for p in parameters.get("parameter", []) if p["name"] == "return"]


def test_an_inquiry_returns_the_current_response_of_the_providers_case(pas_client):
    submitted = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    resp = inquire(pas_client, load_fixture("inquiry-riverside"))
    assert resp.status_code == 200
    bundles = returned_bundles(resp.get_json())
    assert len(bundles) == 1
    found = bundles[0]
    assert found["meta"]["profile"] == [PAS_SD + "profile-pas-inquiry-response-bundle"]
    assert found["identifier"] == load_fixture("inquiry-riverside")["identifier"]
    cr = claim_response(found)
    assert cr["meta"]["profile"] == [PAS_SD + "profile-claiminquiryresponse"]
    assert cr["id"] == submitted["id"] and cr["preAuthRef"] == submitted["id"]
    assert actions(found) == {1: "A1", 2: "A1", 3: "A1"}


def test_an_inquiry_shows_the_case_as_it_is_now_after_a_cancel(pas_client):
    submit(pas_client, load_fixture("thp-her2-positive"))
    submit(pas_client, load_fixture("thp-her2-positive-cancel"))
    bundles = returned_bundles(inquire(pas_client, load_fixture("inquiry-riverside")).get_json())
    assert [actions(b) for b in bundles] == [{1: "C", 2: "C", 3: "C"}]


def test_another_provider_cannot_see_the_case(pas_client):
    submit(pas_client, load_fixture("thp-her2-positive"))
    resp = inquire(pas_client, load_fixture("inquiry-other-clinic"))
    assert resp.status_code == 200
    assert returned_bundles(resp.get_json()) == []


def test_an_inquiry_by_order_id_narrows_the_search(pas_client):
    first = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    submit(pas_client, load_fixture("palbociclib-letrozole-oral"))
    assert len(returned_bundles(inquire(pas_client, load_fixture("inquiry-riverside")).get_json())) == 2
    query = load_fixture("inquiry-riverside")
    query["entry"][0]["resource"]["item"] = [{
        "extension": [{"url": PAS_SD + "extension-authorizationNumber", "valueString": first["id"]}],
        "sequence": 1,
        "productOrService": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                         "code": "not-applicable"}]}}]
    bundles = returned_bundles(inquire(pas_client, query).get_json())
    assert [claim_response(b)["id"] for b in bundles] == [first["id"]]


def test_the_official_inquiry_example_finds_the_official_request_it_asks_about(pas_client):
    submitted = claim_response(submit(pas_client, load_example("Bundle-HomecareAuthorizationBundleExample.json")).get_json())
    bundles = returned_bundles(inquire(pas_client, load_example("Bundle-PASClaimInquiryBundleExample.json")).get_json())
    assert [claim_response(b)["id"] for b in bundles] == [submitted["id"]]


def test_an_inquiry_that_does_not_name_the_provider_or_insurer_is_refused(pas_client, store):
    query = load_fixture("inquiry-riverside")
    query["entry"][0]["resource"].pop("provider")      # Claim.provider is 1..1 in FHIR itself: structure
    resp = inquire(pas_client, query)
    assert resp.status_code == 400
    issue = resp.get_json()["issue"][0]
    assert issue["code"] == "required" and issue["expression"] == ["Bundle.entry[0].resource.provider"]
    query = load_fixture("inquiry-riverside")
    query["entry"][0]["resource"].pop("insurer")       # PAS makes insurer 1..1: a rule
    resp = inquire(pas_client, query)
    assert resp.status_code == 422
    assert resp.get_json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.insurer"]


def test_an_inquiry_with_a_provider_without_npi_is_refused(pas_client):
    query = load_fixture("inquiry-riverside")
    for e in query["entry"]:
        if e["resource"]["id"] == "onc-clinic":
            e["resource"]["identifier"] = []
    resp = inquire(pas_client, query)
    assert resp.status_code == 422
    assert "NPI" in resp.get_json()["issue"][0]["diagnostics"]


def test_metadata_declares_fhir_4_0_1_json_and_the_pas_claim_operations(client):
    resp = client.get("/fhir/metadata")
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    cs = resp.get_json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1" and "json" in cs["format"]
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    ops = {o["name"]: o["definition"] for o in resources["Claim"]["operation"]}
    assert ops == {"submit": "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit",
                   "inquire": "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry"}
    assert {i["code"] for i in resources["Subscription"]["interaction"]} >= {"create", "read", "delete"}


def test_metadata_is_a_valid_r4b_capability_statement(client):
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    cs = CapabilityStatement.model_validate(client.get("/fhir/metadata").get_json())
    assert cs.fhirVersion == "4.0.1"
    claim = next(r for r in cs.rest[0].resource if r.type == "Claim")
    assert {op.name for op in claim.operation} >= {"submit", "inquire"}


def test_an_inquiry_naming_a_service_request_it_does_not_include_is_answered(pas_client):
    submitted = claim_response(submit(pas_client, load_fixture("thp-her2-positive")).get_json())
    bundle = load_fixture("inquiry-riverside")
    claim = bundle["entry"][0]["resource"]
    claim.setdefault("item", [{"sequence": 1, "productOrService": {"text": "any"}}])
    claim["item"][0].setdefault("extension", []).append({
        "url": PAS_SD + "extension-requestedService",
        "valueReference": {"reference": "ServiceRequest/not-in-this-bundle"}})
    resp = inquire(pas_client, bundle)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert [claim_response(b)["id"] for b in returned_bundles(resp.get_json())] == [submitted["id"]]


def test_an_inquiry_whose_patient_does_not_resolve_is_still_refused(pas_client):
    submit(pas_client, load_fixture("thp-her2-positive"))
    bundle = load_fixture("inquiry-riverside")
    bundle["entry"][0]["resource"]["patient"] = {"reference": "Patient/not-in-this-bundle"}
    resp = inquire(pas_client, bundle)
    assert resp.status_code == 422
    assert "Bundle.entry[0].resource.patient" in [e for i in resp.get_json()["issue"] for e in i.get("expression", [])]

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
