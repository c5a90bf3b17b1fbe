"""`POST /fhir/Subscription`, `GET /fhir/Subscription/<id>`, `DELETE /fhir/Subscription/<id>`:
PAS pended-result Subscriptions (R4 + Subscriptions Backport, rest-hook, full-resource).

A valid Subscription is stored `active` and answered 201 with a Location; an invalid one gets
400 (not a Subscription) or 422 (breaks the PAS profile) with an OperationOutcome naming each
problem. Notifications: see server/notify (matching rule on orgIdentifier).
"""
from __future__ import annotations

import json
import uuid

from flask import Blueprint, Flask, current_app, request

from server.errors import BadRequest, Issue, NotFound, ServiceError
from server.http.reviewer import get_review, now
from server.notify import subscriptions

FHIR_JSON = "application/fhir+json"
bp = Blueprint("fhir_subscription", __name__, url_prefix="/fhir")


def _fhir(body: dict | None, status: int = 200):
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
    return current_app.response_class(data, status=status, mimetype=FHIR_JSON)




def _parse(raw: bytes):
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(Issue("invalid", f"the body is not JSON: {exc}"))
    if b"\\u0000" in raw:
        raise BadRequest(Issue("invalid", "the body contains a NUL character (\\u0000)"))
    return body


@bp.post("/Subscription")
def create():
    if request.mimetype and request.mimetype not in (FHIR_JSON, "application/json"):
        raise ServiceError(Issue("not-supported", f"Content-Type {request.mimetype!r} is not accepted; "
                                                  f"send {FHIR_JSON}"), status=415)
    body = _parse(request.get_data(cache=False))
    org, endpoint = subscriptions.validate(body)
    sub_id = uuid.uuid4().hex
    resource = subscriptions.accepted(body, sub_id)
    get_review().reviews.add_subscription(sub_id, org_identifier=org, endpoint=endpoint, resource=resource,
                                          now=now(), actor=f"subscriber:{org}")
    resp = _fhir(resource, 201)
    resp.headers["Location"] = f"{request.url_root.rstrip('/')}/fhir/Subscription/{sub_id}"
    return resp


@bp.get("/Subscription/<sub_id>")
def read(sub_id: str):
    found = get_review().reviews.get_subscription(sub_id)
    if found is None:
        raise NotFound(Issue("not-found", f"Subscription/{sub_id} not found"))
    return _fhir(found[0])


@bp.delete("/Subscription/<sub_id>")
def delete(sub_id: str):
    if not get_review().reviews.delete_subscription(sub_id, actor="subscriber"):
        raise NotFound(Issue("not-found", f"Subscription/{sub_id} not found"))
    return _fhir(None, 204)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
