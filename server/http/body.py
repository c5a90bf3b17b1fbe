"""The one request-body layer: every route reads its JSON body, its clock and (for FHIR) its
answer through here, so the same rules hold on every route.

The byte-level rules (size, nesting depth, NUL and lone-surrogate escapes) run before any route
(`server.http.limits.check_request`, a before_request hook); this module parses what passed
them: `json_body()` (400 "not JSON" the same way everywhere), `fhir_body()` (415 unless
application/fhir+json or application/json), `body_text()` (the body as received, for storing),
`now()` (the request time: the one clock, which tests pin), `fhir_response()`.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import current_app, request

from server import jsontext
from server.errors import BadRequest, Issue, ServiceError

FHIR_JSON = "application/fhir+json"
FHIR_TYPES = frozenset({FHIR_JSON, "application/json"})
_EMPTY = object()


def _not_a_number(name: str):
    """`NaN` / `Infinity` are not JSON numbers (RFC 8259): refused (400), never stored — a stored
    one made every later answer invalid JSON. Called only when such a token is met."""
    raise BadRequest(Issue("invalid", f"the body holds {name}, which is not a JSON number"))


def json_body(*, empty=_EMPTY):
    """The body parsed as JSON (whatever its Content-Type). `empty`: what an empty body stands
    for (default: an empty body is not JSON)."""
    raw = request.get_data(cache=True)
    if not raw.strip() and empty is not _EMPTY:
        return empty
    try:
        return jsontext.loads(raw, parse_constant=_not_a_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(Issue("structure", f"the request body is not valid JSON: {exc.__class__.__name__}"))


def json_object(*, empty=_EMPTY) -> dict:
    body = json_body(empty=empty)
    if not isinstance(body, dict):
        raise BadRequest(Issue("structure", "the request body must be a JSON object"))
    return body


def fhir_body():
    """A FHIR JSON body: 415 for another Content-Type, 400 if it is not JSON."""
    if request.mimetype and request.mimetype not in FHIR_TYPES:
        raise ServiceError(Issue("not-supported", f"Content-Type {request.mimetype!r} is not accepted; "
                                 f"send {FHIR_JSON} or application/json"), status=415)
    return json_body()


def body_text() -> str | None:
    """The body as received, as text (stored with a case as sent); None if it is no text."""
    data = request.get_data(cache=True)
    try:
        return data.decode(json.detect_encoding(data))
    except (UnicodeDecodeError, LookupError):
        return None


def now() -> datetime:
    """Request time (UTC). `app.extensions["oncopath.clock"]`, when set, replaces the wall clock
    (tests pin it: R9/R10 depend on the day a request arrives)."""
    clock = current_app.extensions.get("oncopath.clock")
    return clock() if clock else datetime.now(timezone.utc)


def fhir_response(body: dict | None, status: int = 200):
    """application/fhir+json, keys in the order they were built (resourceType first)."""
    data = jsontext.dumps(body) if body is not None else b""
    return current_app.response_class(data, status=status, mimetype=FHIR_JSON)
