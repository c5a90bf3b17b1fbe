"""PAS Subscriptions: create / read / delete and validation against the PAS profile."""
from __future__ import annotations

import copy
import json

import pytest

from test_review_api import load_example, review_app  # noqa: F401  (fixture)

SUB = "Subscription-PASSubscriptionExample.json"


def post(client, body):
    return client.post("/fhir/Subscription", data=json.dumps(body), content_type="application/fhir+json")


@pytest.fixture
def client(review_app):  # noqa: F811
    return review_app[0].test_client()


def test_the_official_example_subscription_is_accepted_stored_and_readable(client):
    resp = post(client, load_example(SUB))
    assert resp.status_code == 201
    created = resp.get_json()
    assert created["status"] == "active"
    assert created["criteria"] == "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
    assert resp.headers["Location"].endswith(f"/fhir/Subscription/{created['id']}")
    read = client.get(f"/fhir/Subscription/{created['id']}")
    assert read.status_code == 200 and read.mimetype == "application/fhir+json"
    assert read.get_json()["_criteria"]["extension"][0]["valueString"] == "orgIdentifier=1234567893"


def test_a_deleted_subscription_is_gone(client):
    sub_id = post(client, load_example(SUB)).get_json()["id"]
    assert client.delete(f"/fhir/Subscription/{sub_id}").status_code == 204
    assert client.get(f"/fhir/Subscription/{sub_id}").status_code == 404
    assert client.delete(f"/fhir/Subscription/{sub_id}").status_code == 404


def _broken(change):
    body = copy.deepcopy(load_example(SUB))
    change(body)
    return body


@pytest.mark.parametrize("change,expression", [
    (lambda b: b.update(criteria="http://example.org/OtherTopic"), "Subscription.criteria"),
    (lambda b: b.pop("_criteria"), "Subscription.criteria.extension"),
    (lambda b: b["_criteria"]["extension"][0].update(valueString="patient=123"), "Subscription.criteria.extension"),
    (lambda b: b["channel"].update(type="websocket"), "Subscription.channel.type"),
    (lambda b: b["channel"].update(endpoint="ftp://example.org/x"), "Subscription.channel.endpoint"),
    (lambda b: b["channel"].update(endpoint="not a url"), "Subscription.channel.endpoint"),
    (lambda b: b["channel"].update(payload="application/xml"), "Subscription.channel.payload"),
    (lambda b: b["channel"]["_payload"]["extension"][0].update(valueCode="id-only"),
     "Subscription.channel.payload.extension"),
], ids=["topic", "no-filter", "wrong-filter", "websocket", "ftp", "not-url", "xml", "id-only"])
def test_a_subscription_that_breaks_the_pas_profile_is_422_naming_the_element(client, change, expression):
    resp = post(client, _broken(change))
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert any(expression in i.get("expression", []) for i in body["issue"])


def test_something_that_is_not_a_subscription_is_400(client):
    assert post(client, {"resourceType": "Patient"}).status_code == 400
    resp = client.post("/fhir/Subscription", data="{not json", content_type="application/fhir+json")
    assert resp.status_code == 400 and resp.get_json()["resourceType"] == "OperationOutcome"


def test_the_capability_statement_declares_subscription_create_read_delete(client):
    cs = client.get("/fhir/metadata").get_json()
    sub = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Subscription")
    assert {i["code"] for i in sub["interaction"]} == {"create", "read", "delete"}

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
