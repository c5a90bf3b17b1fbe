"""Malformed PAS input: the right 4xx OperationOutcome, with expressions, and nothing stored."""
from __future__ import annotations

import copy
import json

import pytest

from server.app import create_app
from test_pas_submit import load_fixture, submit

EMPTY = {"cases": 0, "case_events": 0, "audit": 0, "feedback": 0}
CLAIM = "Bundle.entry[0].resource"


def thp() -> dict:
    return load_fixture("thp-her2-positive")


def claim_of(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def swapped(bundle):
    bundle["entry"][0], bundle["entry"][1] = bundle["entry"][1], bundle["entry"][0]
    return bundle


def edit(fn):
    def make():
        bundle = thp()
        fn(bundle)
        return bundle
    return make


MATRIX = [
    # name, body maker, status, issue code, expression
    ("not JSON", lambda: b"{this is not json", 400, "structure", None),
    ("a JSON array", lambda: b"[]", 400, "structure", "Bundle"),
    ("a NUL character", edit(lambda b: claim_of(b).__setitem__("id", "a\u0000b")), 400, "invalid", None),
    ("a Claim instead of a Bundle", lambda: json.dumps(claim_of(thp())), 400, "structure", "Bundle.resourceType"),
    ("Parameters without a resource", lambda: json.dumps({"resourceType": "Parameters", "parameter": []}),
     400, "required", "Parameters.parameter"),
    ("an item sequence that is not an integer",
     edit(lambda b: claim_of(b)["item"][0].__setitem__("sequence", "first")), 400, "structure",
     f"{CLAIM}.item[0].sequence"),
    ("an entry without a resource", edit(lambda b: b["entry"].append({"fullUrl": "urn:uuid:x"})),
     400, "structure", "Bundle.entry[15].resource"),
    ("the Claim not first", edit(swapped), 422, "invalid", "Bundle.entry[0].resource"),
    ("a dangling reference", edit(lambda b: claim_of(b).__setitem__("patient", {"reference": "Patient/nobody"})),
     422, "not-found", f"{CLAIM}.patient"),
    ("a missing insurer", edit(lambda b: claim_of(b).pop("insurer")), 422, "required", f"{CLAIM}.insurer"),
    ("use = claim", edit(lambda b: claim_of(b).__setitem__("use", "claim")), 422, "value", f"{CLAIM}.use"),
    ("status draft", edit(lambda b: claim_of(b).__setitem__("status", "draft")), 422, "value", f"{CLAIM}.status"),
    ("a transaction Bundle", edit(lambda b: b.__setitem__("type", "transaction")), 422, "value", "Bundle.type"),
    ("no Bundle identifier", edit(lambda b: b.pop("identifier")), 422, "required", "Bundle.identifier"),
    ("no Bundle timestamp", edit(lambda b: b.pop("timestamp")), 422, "required", "Bundle.timestamp"),
    ("an entry without fullUrl", edit(lambda b: b["entry"][3].pop("fullUrl")), 422, "required",
     "Bundle.entry[3].fullUrl"),
    ("no Claim identifier", edit(lambda b: claim_of(b).pop("identifier")), 422, "required", f"{CLAIM}.identifier"),
    ("an item without certificationType",
     edit(lambda b: claim_of(b)["item"][1].__setitem__("extension", [
         e for e in claim_of(b)["item"][1]["extension"] if not e["url"].endswith("certificationType")])),
     422, "required", f"{CLAIM}.item[1].extension"),
    ("an item without requestType",
     edit(lambda b: claim_of(b)["item"][2].__setitem__("extension", [
         e for e in claim_of(b)["item"][2]["extension"] if not e["url"].endswith("RequestType")])),
     422, "required", f"{CLAIM}.item[2].extension"),
]


@pytest.mark.parametrize("name,make,status,code,expression", MATRIX, ids=[m[0] for m in MATRIX])
def test_malformed_input_gets_a_precise_operation_outcome_and_stores_nothing(client, app, name, make, status,
                                                                              code, expression):
    resp = submit(client, make())
    assert resp.status_code == status, resp.get_json()
    assert resp.mimetype == "application/fhir+json"
    outcome = resp.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = next(i for i in outcome["issue"] if i["code"] == code)
    assert issue["severity"] == "error" and issue["diagnostics"]
    if expression is not None:
        assert expression in issue["expression"]
    assert app.extensions["oncopath.store"].counts() == EMPTY


def test_every_broken_rule_is_reported_in_one_operation_outcome(client, app):
    bundle = thp()
    claim_of(bundle)["use"] = "claim"
    claim_of(bundle).pop("insurer")
    claim_of(bundle)["provider"] = {"reference": "Organization/elsewhere"}
    resp = submit(client, bundle)
    assert resp.status_code == 422
    expressions = {e for i in resp.get_json()["issue"] for e in i.get("expression", [])}
    assert {f"{CLAIM}.use", f"{CLAIM}.insurer", f"{CLAIM}.provider"} <= expressions
    assert app.extensions["oncopath.store"].counts() == EMPTY


def test_a_body_larger_than_max_content_length_is_refused_with_413(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'big.db'}",
                      "MAX_CONTENT_LENGTH": 50_000})
    bundle = thp()
    claim_of(bundle)["supportingInfo"][0]["valueString"] = "x" * 60_000
    resp = submit(app.test_client(), bundle)
    assert resp.status_code == 413
    issue = resp.get_json()["issue"][0]
    assert issue["code"] == "too-costly" and "50000" in issue["diagnostics"]
    assert app.extensions["oncopath.store"].counts() == EMPTY


def test_a_body_that_is_not_fhir_json_is_refused_with_415(client, app):
    resp = client.post("/fhir/Claim/$submit", data=json.dumps(thp()), content_type="text/plain")
    assert resp.status_code == 415
    assert "application/fhir+json" in resp.get_json()["issue"][0]["diagnostics"]
    assert app.extensions["oncopath.store"].counts() == EMPTY


def test_the_official_examples_that_are_not_requests_are_refused(client, app, examples_dir):
    response_bundle = json.loads((examples_dir / "pas-2.2.1" / "Bundle-ReferralAuthorizationResponseBundleExample.json").read_text())
    resp = submit(client, response_bundle)
    assert resp.status_code == 422
    assert resp.get_json()["issue"][0]["expression"] == ["Bundle.entry[0].resource"]
    assert app.extensions["oncopath.store"].counts() == EMPTY

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
