"""`POST /fhir/Subscription`, `GET /fhir/Subscription/<id>`, `DELETE /fhir/Subscription/<id>`:
PAS pended-result Subscriptions (R4 + Subscriptions Backport, rest-hook, full-resource).

A valid Subscription is stored `active` and answered 201 with a Location; an invalid one gets
400 (not a Subscription) or 422 (breaks the PAS profile) with an OperationOutcome naming each
problem. Notifications: see server/notify (matching rule on orgIdentifier).
"""
from __future__ import annotations

import uuid

from flask import Blueprint, Flask, request

from server.errors import Issue, NotFound
from server.http.body import fhir_body, fhir_response, now
from server.http.reviewer import get_review
from server.notify import subscriptions

bp = Blueprint("fhir_subscription", __name__, url_prefix="/fhir")


@bp.post("/Subscription")
def create():
    body = fhir_body()
    org, endpoint = subscriptions.validate(body)
    sub_id = uuid.uuid4().hex
    resource = subscriptions.accepted(body, sub_id)
    get_review().reviews.add_subscription(sub_id, org_identifier=org, endpoint=endpoint, resource=resource,
                                          now=now(), actor=f"subscriber:{org}")
    resp = fhir_response(resource, 201)
    resp.headers["Location"] = f"{request.url_root.rstrip('/')}/fhir/Subscription/{sub_id}"
    return resp


@bp.get("/Subscription/<sub_id>")
def read(sub_id: str):
    found = get_review().reviews.get_subscription(sub_id)
    if found is None:
        raise NotFound(Issue("not-found", f"Subscription/{sub_id} not found"))
    return fhir_response(found[0])


@bp.delete("/Subscription/<sub_id>")
def delete(sub_id: str):
    if not get_review().reviews.delete_subscription(sub_id, actor="subscriber"):
        raise NotFound(Issue("not-found", f"Subscription/{sub_id} not found"))
    return fhir_response(None, 204)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
