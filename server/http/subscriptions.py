"""`POST /fhir/Subscription`, `GET /fhir/Subscription/<id>`, `DELETE /fhir/Subscription/<id>`:
PAS pended-result Subscriptions (R4 + Subscriptions Backport, rest-hook, full-resource).

A valid Subscription is stored `active` and answered 201 with a Location; an invalid one gets
400 (not a Subscription) or 422 (breaks the PAS profile) with an OperationOutcome naming each
problem. Notifications: see server/notify (matching rule on orgIdentifier).

Access (SMART Backend Services, scope system/Subscription.crd): a client subscribes only with
an `orgIdentifier` it is registered for; a Subscription belongs to the client that created it,
and any other client reading or deleting it gets the answer for an unknown one (404). The
endpoint must pass the outbound rules (server/security/outbound.py) when created and at each
delivery. With the FHIR door open (development) anyone may, as before.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, Flask, current_app, g, request

from server.errors import BadRequest, Issue, NotFound, ServiceError
from server.http.body import fhir_body, fhir_response, now
from server.http.reviewer import get_review
from mappings import subscription as subscriptions
from server.security import outbound, smart_auth
from server.security.clients import SCOPE_SUBSCRIBE

bp = Blueprint("fhir_subscription", __name__, url_prefix="/fhir")


@bp.post("/Subscription")
def create():
    client = smart_auth.require_client(SCOPE_SUBSCRIBE)
    body = fhir_body()
    org, endpoint = subscriptions.validate(body)
    limit = int(current_app.config.get("MAX_IDENTIFIER_LENGTH", 256))
    if len(org) > limit:
        raise BadRequest(Issue("too-long", f"orgIdentifier is longer than {limit} characters",
                               expression=["Subscription.criteria.extension"]))
    problem = _policy().url_problem(endpoint) if len(endpoint) <= 2048 else "longer than 2048 characters"
    if problem:
        raise ServiceError(Issue("value", f"channel.endpoint is refused: {problem}",
                                 expression=["Subscription.channel.endpoint"]), status=422)
    if client is not None and org not in client.organizations:
        raise ServiceError(Issue("forbidden", "this client is not registered for the orgIdentifier",
                                 expression=["Subscription.criteria.extension"]), status=403)
    sub_id = uuid.uuid4().hex
    resource = subscriptions.accepted(body, sub_id)
    get_review().reviews.add_subscription(sub_id, org_identifier=org, endpoint=endpoint, resource=resource,
                                          now=now(), actor=f"client:{client.client_id}" if client else f"subscriber:{org}")
    if client is not None:
        smart_auth.registry().set_subscription_owner(sub_id, client.client_id)
    resp = fhir_response(resource, 201)
    base = current_app.config.get("PUBLIC_BASE_URL") or request.url_root
    resp.headers["Location"] = f"{base.rstrip('/')}/fhir/Subscription/{sub_id}"
    return resp


def _policy() -> outbound.OutboundPolicy:
    return outbound.OutboundPolicy(current_app.config.get("OUTBOUND_ALLOWED_NETWORKS") or ())


def _owned(sub_id: str) -> str:
    """The caller's own Subscription id, or 404 (unknown and another client's look the same)."""
    client = smart_auth.require_client(SCOPE_SUBSCRIBE)
    if len(sub_id) > 64 or (client is not None
                            and smart_auth.registry().subscription_owner(sub_id) != client.client_id):
        raise NotFound(Issue("not-found", "Subscription not found"))
    return sub_id


@bp.get("/Subscription/<sub_id>")
def read(sub_id: str):
    found = get_review().reviews.get_subscription(_owned(sub_id))
    if found is None:
        raise NotFound(Issue("not-found", "Subscription not found"))
    return fhir_response(found[0])


@bp.delete("/Subscription/<sub_id>")
def delete(sub_id: str):
    owned = _owned(sub_id)
    client = getattr(g, "fhir_client", None)
    actor = f"client:{client.client_id}" if client is not None else "subscriber"
    if not get_review().reviews.delete_subscription(owned, actor=actor):
        raise NotFound(Issue("not-found", "Subscription not found"))
    return fhir_response(None, 204)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
