"""Subscriptions belong to the client that made them and to its organisations; their endpoints
keep to the outbound rules (no private targets, no redirects)."""
from __future__ import annotations

from datetime import timedelta

from reliability.harness import CLOCK
from server.notify.delivery import deliver_pending, make_post
from server.security.outbound import OutboundPolicy
from server.store.review_models import NotificationRow, SubscriptionRow

from .conftest import ATTACKER_NPI, VICTIM_NPI, Party, make_closed_app, outcome, pas_subscription, redirect_to


def test_a_subscription_for_another_organisation_is_refused(attacker):
    issue = outcome(attacker.post("/fhir/Subscription", pas_subscription(VICTIM_NPI)), 403)
    assert "not registered for the orgIdentifier" in issue["diagnostics"]


def test_only_the_client_that_made_a_subscription_may_read_or_delete_it(victim, attacker):
    created = victim.post("/fhir/Subscription", pas_subscription(VICTIM_NPI))
    assert created.status_code == 201
    sub_id = created.get_json()["id"]
    for call in (attacker.get, attacker.delete):
        assert outcome(call(f"/fhir/Subscription/{sub_id}"), 404) == outcome(call("/fhir/Subscription/nope"), 404)
    assert victim.get(f"/fhir/Subscription/{sub_id}").get_json()["id"] == sub_id
    assert victim.delete(f"/fhir/Subscription/{sub_id}").status_code == 204


def test_a_subscription_endpoint_on_a_private_or_loopback_address_is_refused(victim):
    for endpoint in ("http://127.0.0.1:9/x", "http://127.1/x", "http://2130706433/x", "http://[::1]/x",
                     "http://169.254.169.254/latest/meta-data", "http://10.0.0.5/x", "http://user:pw@example.org/x"):
        issue = outcome(victim.post("/fhir/Subscription", pas_subscription(VICTIM_NPI, endpoint)), 422)
        assert issue["expression"] == ["Subscription.channel.endpoint"], endpoint


def test_a_notification_is_not_sent_to_an_endpoint_that_resolves_to_loopback():
    post = make_post(OutboundPolicy())
    try:
        post("http://localhost:9/notify", b"{}", 1.0)
    except Exception as exc:   # noqa: BLE001 - the refusal is the point
        assert "not allowed" in str(exc)
    else:
        raise AssertionError("a notification went to localhost")


def test_a_307_from_a_subscription_endpoint_does_not_carry_the_body_to_another_host(tmp_path, recorder):
    elsewhere = recorder()
    endpoint = recorder(redirect_to(elsewhere.url + "/stolen"))
    app = make_closed_app(tmp_path, OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"])
    victim = Party(app, [VICTIM_NPI])
    assert victim.post("/fhir/Subscription", pas_subscription(VICTIM_NPI, endpoint.url + "/notify")).status_code == 201
    reviews = app.extensions["oncopath.review"].reviews
    with reviews.cases.uow() as uow:   # one due notification, as a decision would leave it
        sub = uow.session.query(SubscriptionRow).first()
        uow.session.add(NotificationRow(subscription_id=sub.id, order_id="ONC-AAAAAAAAAA", event_number=1,
                                        payload={"resourceType": "Bundle", "secret": "PHI"}, status="pending",
                                        attempts=0, next_attempt_at=CLOCK, created_at=CLOCK))
        uow.commit()
    counts = deliver_pending(reviews, CLOCK + timedelta(seconds=1),
                             post=make_post(OutboundPolicy(["127.0.0.0/8"])), timeout=2.0)
    assert counts == {"delivered": 0, "retry": 1, "failed": 0}
    assert len(endpoint.hits) == 1 and elsewhere.hits == []
    deliveries = reviews.deliveries_for(reviews.notifications_for("ONC-AAAAAAAAAA")[0].id)
    assert deliveries[0].status_code == 307 and deliveries[0].ok is False


def test_an_attacker_cannot_subscribe_to_the_victims_decisions_with_its_own_token(attacker):
    assert outcome(attacker.post("/fhir/Subscription", pas_subscription(VICTIM_NPI)), 403)["code"] == "forbidden"
    assert attacker.post("/fhir/Subscription", pas_subscription(ATTACKER_NPI)).status_code == 201

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
