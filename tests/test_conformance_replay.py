"""Conformance replay: every request instance of ../shared/examples (PAS 2.2.1, CRD, CDS Hooks
spec, FHIR R4 core) is sent through its door and the answer checked against the profiles'
rules (tests/conformance/rules.py) and as FHIR (fhir.resources, R4B models); then pairs of
different requests made to share one identifier, and identical retries.

Which file is a request, and why the others are not, is decided from each file's content by
tests/conformance/examples.py; the first test fails on any file no rule recognises, so a new
example is either replayed or given a reason.
"""
from __future__ import annotations

import copy
import itertools
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import responses

from conformance.examples import SERVICE_FOR_HOOK, UNCLASSIFIED, load_examples
from conformance.rules import (actions, cds_response_problems, fhir_problems, inquiry_answer_problems,
                               operation_outcome_problems, pas_response_problems)
from mappings.crd_checks import response_problems as crd_problems
from server.app import create_app

EXAMPLES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "examples"
EXAMPLES = load_examples(EXAMPLES_DIR)
BY_NAME = {e.name: e for e in EXAMPLES}
REQUESTS = [e for e in EXAMPLES if e.is_request]
SUBMITS = [e for e in REQUESTS if e.door == "submit"]
# The examples' dates lie around 2026-11 to 2027 (fixtures) or in the IG's past; one clock for all.
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
EMPTY_SEARCHSET = {"resourceType": "Bundle", "type": "searchset", "entry": []}


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'replay.db'}",
                      "CDS_JWT_REQUIRED": False, "PUBLIC_BASE_URL": "http://localhost"})
    app.extensions["oncopath.clock"] = lambda: NOW
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, path: str, doc: dict):
    """POST as a test kit would; any read the service makes of an EHR's fhirServer gets an
    empty searchset (the examples' EHRs are not there)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as ehr:
        ehr.get(re.compile(r"https?://.*"), json=EMPTY_SEARCHSET)
        return client.post(path, json=doc, content_type="application/fhir+json" if "/fhir/" in path else None)


def claim(doc: dict) -> dict:
    return doc["entry"][0]["resource"]


def identifier_keys(doc: dict) -> set[tuple]:
    return {(i.get("system"), i.get("value")) for i in claim(doc).get("identifier") or []}


def prerequisites(example) -> list:
    """The request examples an update example names as its related Claim (submitted first)."""
    named = {(c["claim"]["identifier"].get("system"), c["claim"]["identifier"].get("value"))
             for c in claim(example.doc).get("related") or [] if (c.get("claim") or {}).get("identifier")}
    return [e for e in SUBMITS if e is not example and identifier_keys(e.doc) & named]


def submit_ok(client, doc: dict) -> dict:
    resp = post(client, "/fhir/Claim/$submit", doc)
    assert resp.status_code == 200, resp.get_json()
    assert resp.mimetype == "application/fhir+json"
    body = resp.get_json()
    assert pas_response_problems(body, doc) == []
    return body


def cases(app) -> int:
    return app.extensions["oncopath.store"].counts()["cases"]


# ------------------------------------------------------------------------------ the inventory

def test_every_example_file_is_replayed_or_has_the_reason_it_is_not_a_request():
    assert EXAMPLES_DIR.is_dir(), f"{EXAMPLES_DIR} (../shared/examples beside the clone) is missing"
    unclassified = [e.name for e in EXAMPLES if e.door == UNCLASSIFIED]
    assert unclassified == [], "say in tests/conformance/examples.py what these are: " + ", ".join(unclassified)
    assert all(e.reason for e in EXAMPLES)
    doors = {e.name: e.door for e in REQUESTS}
    # the requests the issue names are among those replayed
    for name in ("pas-2.2.1/Bundle-HomecareAuthorizationBundleExample.json",
                 "pas-2.2.1/Bundle-SurgicalRequestBundleExample.json", "crd/CRDServiceRequest.json",
                 "cds-hooks-spec/order-sign-request.json", "cds-hooks-spec/order-select-request-docs.json"):
        assert name in doors
    assert doors["pas-2.2.1/Bundle-PASClaimInquiryBundleExample.json"] == "inquire"
    assert len(SUBMITS) >= 5 and sum(1 for e in REQUESTS if e.door == "hook") >= 7


# -------------------------------------------------------------------------------- each request

@pytest.mark.parametrize("name", [e.name for e in REQUESTS])
def test_each_request_example_gets_an_answer_that_keeps_the_profile_rules(app, client, name):
    example = BY_NAME[name]
    doc = copy.deepcopy(example.doc)
    if example.door == "submit":
        for earlier in prerequisites(example):
            submit_ok(client, copy.deepcopy(earlier.doc))
        body = submit_ok(client, doc)
        assert set(actions(body)) == {i["sequence"] for i in claim(doc)["item"]}
    elif example.door == "inquire":
        submitted = [claim(submit_ok(client, copy.deepcopy(e.doc)))["id"] for e in SUBMITS]
        resp = post(client, "/fhir/Claim/$inquire", doc)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert inquiry_answer_problems(body, doc) == []
        found = [claim(p["resource"])["id"] for p in body["parameter"]]
        assert found and set(found) <= set(submitted)
    elif example.door == "refuse":
        resp = post(client, "/fhir/Claim/$submit", doc)
        assert resp.status_code in (400, 422)
        assert operation_outcome_problems(resp.get_json()) == []
        assert all(i.get("expression") for i in resp.get_json()["issue"])
        assert cases(app) == 0
    elif example.door == "hook":
        service = SERVICE_FOR_HOOK.get(doc["hook"], "oncopath-order-sign")
        resp = post(client, f"/cds-services/{service}", doc)
        if doc["hook"] not in SERVICE_FOR_HOOK:
            assert resp.status_code == 400
            assert operation_outcome_problems(resp.get_json()) == []
            assert doc["hook"] in resp.get_json()["issue"][0]["diagnostics"]
            return
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert cds_response_problems(body, doc) == []
        assert crd_problems(body, hook=doc["hook"]) == []
    elif example.door == "feedback":
        resp = post(client, "/cds-services/oncopath-order-sign/feedback", doc)
        assert resp.status_code == 200, resp.get_json()
    elif example.door == "subscribe":
        resp = post(client, "/fhir/Subscription", doc)
        assert resp.status_code == 201, resp.get_json()
        body = resp.get_json()
        assert fhir_problems(body, "Subscription") == []
        assert body["status"] == "active" and body["channel"] == doc["channel"]
        assert resp.headers["Location"].endswith(f"/fhir/Subscription/{body['id']}")
    else:
        raise AssertionError(f"no door for {example.door}")


def test_the_rules_catch_a_broken_pas_answer_and_a_broken_card(client):
    """The checkers are not vacuous: a real answer, broken in the ways the profiles forbid."""
    request = copy.deepcopy(SUBMITS[0].doc)
    good = submit_ok(client, request)
    broken = copy.deepcopy(good)
    cr = claim(broken)
    cr["outcome"] = "queued"
    cr["item"] = cr["item"][:-1] if len(cr["item"]) > 1 else []
    cr.pop("processNote", None)
    broken["entry"].reverse()
    problems = pas_response_problems(broken, request)
    assert any("first entry" in p for p in problems)
    problems = pas_response_problems({**good, "entry": [{"fullUrl": "x", "resource": cr}]}, request)
    assert any("queued" in p for p in problems) and any("one ClaimResponse item per Claim item" in p for p in problems)
    assert any("processNote" in p for p in problems)
    card = {"summary": "x" * 140, "indicator": "urgent", "source": {}, "uuid": "not-a-uuid"}
    problems = cds_response_problems({"cards": [card], "systemActions": [{"type": "replace"}]})
    assert len(problems) == 6   # summary, indicator, source.label, uuid, action type, description


# ------------------------------------------------------------------- identifiers shared by pairs

# The requests that are not updates of another (an update shares its related Claim's case).
FIRST_REQUESTS = [e for e in SUBMITS if not claim(e.doc).get("related")]


def sharing(doc: dict, with_doc: dict) -> dict:
    """`doc` made to carry `with_doc`'s Claim identifier and Bundle identifier (as test kits do)."""
    doc = copy.deepcopy(doc)
    claim(doc)["identifier"] = copy.deepcopy(claim(with_doc)["identifier"])
    doc["identifier"] = copy.deepcopy(with_doc["identifier"])
    return doc


def retry_of(doc: dict) -> dict:
    """The same request sent again: a new transmission time and Bundle id."""
    doc = copy.deepcopy(doc)
    doc["timestamp"] = "2026-11-20T15:00:00Z"
    doc["id"] = "retransmitted"
    return doc


@pytest.mark.parametrize("first,second", [(a.name, b.name) for a, b in itertools.combinations(FIRST_REQUESTS, 2)])
def test_two_different_requests_sharing_an_identifier_get_two_correct_answers_and_two_cases(app, client, first, second):
    one = copy.deepcopy(BY_NAME[first].doc)
    two = sharing(BY_NAME[second].doc, one)
    assert identifier_keys(one) == identifier_keys(two)
    answer_one = submit_ok(client, one)
    answer_two = submit_ok(client, two)      # submit_ok checks each against its own request
    assert claim(answer_one)["id"] != claim(answer_two)["id"]
    assert set(actions(answer_two)) == {i["sequence"] for i in claim(two)["item"]}
    assert cases(app) == 2
    # an identical retry of either gets its own first answer, and no third case
    assert submit_ok(client, retry_of(two)) == answer_two
    assert submit_ok(client, retry_of(one)) == answer_one
    assert cases(app) == 2


def test_every_request_example_under_one_identifier_is_a_case_of_its_own_and_each_retry_its_first_answer(app, client):
    base = FIRST_REQUESTS[0].doc
    docs = [copy.deepcopy(base)] + [sharing(e.doc, base) for e in FIRST_REQUESTS[1:]]
    answers = [submit_ok(client, d) for d in docs]
    assert len({claim(a)["id"] for a in answers}) == len(docs) == cases(app)
    for d, a in zip(docs, answers):
        assert submit_ok(client, retry_of(d)) == a
    assert cases(app) == len(docs)


def test_two_different_hook_calls_sharing_a_hook_instance_each_get_the_answer_to_their_own_orders(client):
    one = copy.deepcopy(BY_NAME["crd/CRDServiceRequest.json"].doc)
    two = copy.deepcopy(BY_NAME["cds-hooks-spec/order-sign-request.json"].doc)
    two["hookInstance"] = one["hookInstance"]
    answers = []
    for doc in (one, two, one):
        resp = post(client, "/cds-services/oncopath-order-sign", doc)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert cds_response_problems(body, doc) == []
        drafts = [e["resource"]["id"] for e in doc["context"]["draftOrders"]["entry"]]
        assert [a["resource"]["id"] for a in body["systemActions"]] == drafts
        answers.append(body)
    assert answers[0]["systemActions"] != answers[1]["systemActions"]


def test_the_oncology_fixtures_sharing_a_hook_instance_are_two_cases_and_a_retry_is_none(app, client, fixtures_dir):
    import json

    positive = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    negative = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-negative.json").read_text())
    negative["hookInstance"] = positive["hookInstance"]
    first = post(client, "/cds-services/oncopath-order-sign", positive).get_json()
    second = post(client, "/cds-services/oncopath-order-sign", negative).get_json()
    assert cds_response_problems(first, positive) == [] and cds_response_problems(second, negative) == []
    assert [c["summary"] for c in first["cards"]] != [c["summary"] for c in second["cards"]]
    assert cases(app) == 2
    assert post(client, "/cds-services/oncopath-order-sign", negative).get_json() == second
    assert cases(app) == 2


# Test tier (unit | integration | e2e: see tests/conftest.py).
pytestmark = pytest.mark.e2e
