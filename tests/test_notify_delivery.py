"""Notifications delivered for real over HTTP to a local receiver (http.server in a thread),
retries after a failure, and the end-to-end story of the issue: a pended PAS submission,
approved by a physician through the portal, produces a notification at the subscriber and an
updated $inquire answer with A1."""
from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server.notify.delivery import BACKOFF_BASE, MAX_ATTEMPTS, deliver_pending, make_post
from server.security.outbound import OutboundPolicy
from test_review_api import (PASSWORD, actions_of, act, claim_response, load_example, load_fixture, make_app,
                             submit, thp_her2_unknown, token)

TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"

# The receiver runs on loopback: allowed here, as OUTBOUND_ALLOWED_NETWORKS allows it in a deployment.
LOOPBACK = ["127.0.0.0/8"]
LOCAL_POST = make_post(OutboundPolicy(LOOPBACK))


class Receiver:
    """A rest-hook endpoint: records every POST; answers 500 to the first `fail` ones."""

    def __init__(self, fail: int = 0):
        self.received: list[dict] = []
        self.content_types: list[str] = []
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail > 0:
                    receiver.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append(json.loads(body))
                receiver.content_types.append(self.headers.get("Content-Type"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def flaky_receiver():
    with Receiver(fail=1) as r:
        yield r


def subscribe(client, endpoint: str, org: str = "1234567893") -> str:
    body = load_example("Subscription-PASSubscriptionExample.json")
    body["channel"]["endpoint"] = endpoint
    body["_criteria"]["extension"][0]["valueString"] = f"orgIdentifier={org}"
    resp = client.post("/fhir/Subscription", data=json.dumps(body), content_type="application/fhir+json")
    assert resp.status_code == 201
    return resp.get_json()["id"]


def params(bundle: dict) -> dict:
    p = bundle["entry"][0]["resource"]
    out = {x["name"]: x for x in p["parameter"]}
    return out


def test_a_reviewer_decision_is_posted_to_the_subscriber_as_a_history_bundle(tmp_path, receiver):
    app, clock = make_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    client = app.test_client()
    sub_id = subscribe(client, receiver.url)
    order_id = claim_response(submit(client, thp_her2_unknown()))["id"]
    assert act(client, token(client, "paul"), order_id, "approve").status_code == 200
    store = app.extensions["oncopath.review"].reviews
    assert deliver_pending(store, clock(), post=LOCAL_POST) == {"delivered": 1, "retry": 0, "failed": 0}

    [note] = receiver.received
    assert receiver.content_types == ["application/fhir+json"]
    assert note["resourceType"] == "Bundle" and note["type"] == "history"
    p = params(note)
    assert p["subscription"]["valueReference"]["reference"] == f"Subscription/{sub_id}"
    assert p["topic"]["valueCanonical"] == TOPIC
    assert p["type"]["valueCode"] == "event-notification"
    assert p["events-since-subscription-start"]["valueString"] == "1"
    event = {x["name"]: x for x in p["notification-event"]["part"]}
    assert event["event-number"]["valueString"] == "1"
    response_bundle = note["entry"][1]["resource"]
    assert event["focus"]["valueReference"]["reference"] == response_bundle["entry"][0]["fullUrl"]
    assert claim_response(response_bundle)["id"] == order_id
    assert set(actions_of(response_bundle).values()) == {"A1"}
    [n] = store.notifications_for(order_id)
    assert n.status == "delivered" and [d.status_code for d in store.deliveries_for(n.id)] == [200]


def test_a_failed_delivery_is_retried_with_backoff_and_every_attempt_is_recorded(tmp_path, flaky_receiver):
    app, clock = make_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    client = app.test_client()
    subscribe(client, flaky_receiver.url)
    order_id = claim_response(submit(client, thp_her2_unknown()))["id"]
    act(client, token(client, "paul"), order_id, "approve")
    store = app.extensions["oncopath.review"].reviews
    assert deliver_pending(store, clock(), post=LOCAL_POST) == {"delivered": 0, "retry": 1, "failed": 0}
    # Not due again before the backoff has passed.
    assert deliver_pending(store, clock() + BACKOFF_BASE - timedelta(seconds=1), post=LOCAL_POST)["delivered"] == 0
    assert deliver_pending(store, clock() + BACKOFF_BASE, post=LOCAL_POST) == {"delivered": 1, "retry": 0, "failed": 0}
    [n] = store.notifications_for(order_id)
    attempts = store.deliveries_for(n.id)
    assert [(d.attempt, d.status_code, d.ok) for d in attempts] == [(1, 500, False), (2, 200, True)]
    assert len(flaky_receiver.received) == 1


def test_an_unreachable_endpoint_never_blocks_the_decision_and_gives_up_after_the_last_attempt(tmp_path):
    app, clock = make_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    client = app.test_client()
    with Receiver() as r:
        dead = r.url
    subscribe(client, dead)        # nothing listens there any more
    order_id = claim_response(submit(client, thp_her2_unknown()))["id"]
    resp = act(client, token(client, "paul"), order_id, "approve")
    assert resp.status_code == 200 and resp.get_json()["status"] == "Authorized"
    store = app.extensions["oncopath.review"].reviews
    at = clock()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        counts = deliver_pending(store, at, timeout=1.0, post=LOCAL_POST)
        at += BACKOFF_BASE * 2 ** attempt
    assert counts == {"delivered": 0, "retry": 0, "failed": 1}
    [n] = store.notifications_for(order_id)
    assert n.status == "failed" and len(store.deliveries_for(n.id)) == MAX_ATTEMPTS


def test_only_subscribers_with_the_cases_submitter_identifier_are_notified(tmp_path, receiver):
    app, clock = make_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    client = app.test_client()
    subscribe(client, receiver.url, org="9999999999")      # another organization
    order_id = claim_response(submit(client, thp_her2_unknown()))["id"]
    act(client, token(client, "paul"), order_id, "approve")
    store = app.extensions["oncopath.review"].reviews
    assert store.notifications_for(order_id) == []


def test_actions_that_decide_nothing_send_no_notification(tmp_path, receiver):
    app, clock = make_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    client = app.test_client()
    subscribe(client, receiver.url)
    order_id = claim_response(submit(client, thp_her2_unknown()))["id"]
    act(client, token(client, "nina"), order_id, "peer-to-peer-offered")
    act(client, token(client, "nina"), order_id, "request-information", information="pathology report")
    assert app.extensions["oncopath.review"].reviews.notifications_for(order_id) == []


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_end_to_end_pended_submission_approved_in_the_portal_notifies_and_inquire_answers_a1(tmp_path, receiver):
    app, clock = make_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    gateway = app.test_client()
    subscribe(gateway, receiver.url)
    submitted = submit(gateway, thp_her2_unknown())
    order_id = claim_response(submitted)["id"]
    assert set(actions_of(submitted).values()) == {"A4"}

    browser = app.test_client()
    login_page = browser.get("/portal/login").get_data(as_text=True)
    resp = browser.post("/portal/login", data={"username": "paul", "password": PASSWORD,
                                               "csrf_token": _csrf(login_page)})
    assert resp.status_code == 302
    queue = browser.get("/portal/review/").get_data(as_text=True)
    assert order_id in queue
    case_page = browser.get(f"/portal/review/cases/{order_id}").get_data(as_text=True)
    csrf = _csrf(case_page)
    assert browser.post(f"/portal/review/cases/{order_id}/peer-to-peer-offered",
                        data={"csrf_token": csrf, "note": "called the office"}).status_code == 302
    assert browser.post(f"/portal/review/cases/{order_id}/approve",
                        data={"csrf_token": csrf, "note": "HER2 3+ report received"}).status_code == 302
    assert "Authorized" in browser.get(f"/portal/review/cases/{order_id}").get_data(as_text=True)

    deliver_pending(app.extensions["oncopath.review"].reviews, clock(), post=LOCAL_POST)
    [note] = receiver.received
    notified = note["entry"][1]["resource"]
    assert claim_response(notified)["id"] == order_id and set(actions_of(notified).values()) == {"A1"}

    inquiry = gateway.post("/fhir/Claim/$inquire", data=json.dumps(load_fixture("inquiry-riverside")),
                           content_type="application/fhir+json").get_json()
    [answer] = [p["resource"] for p in inquiry["parameter"] if claim_response(p["resource"])["id"] == order_id]
    assert set(actions_of(answer).values()) == {"A1"}
    assert claim_response(answer)["preAuthRef"] == order_id


def test_a_portal_form_without_the_csrf_token_is_refused(tmp_path):
    app, _clock = make_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    client = app.test_client()
    order_id = claim_response(submit(client, thp_her2_unknown()))["id"]
    page = client.get("/portal/login").get_data(as_text=True)
    client.post("/portal/login", data={"username": "paul", "password": PASSWORD, "csrf_token": _csrf(page)})
    resp = client.post(f"/portal/review/cases/{order_id}/approve", data={})
    assert resp.status_code == 400
    assert app.extensions["oncopath.store"].get_case(order_id).status == "In Progress"


def test_the_worker_thread_delivers_without_anyone_calling_it(tmp_path, receiver):
    import time

    app, clock = make_app(tmp_path, NOTIFY_WORKER=True, NOTIFY_INTERVAL=0.2, OUTBOUND_ALLOWED_NETWORKS=LOOPBACK)
    try:
        client = app.test_client()
        subscribe(client, receiver.url)
        order_id = claim_response(submit(client, thp_her2_unknown()))["id"]
        act(client, token(client, "paul"), order_id, "approve")
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.received) == 1
    finally:
        app.extensions["oncopath.notify.worker"].stop()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
