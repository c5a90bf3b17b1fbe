"""The one place that turns errors into OperationOutcome responses (a 500 is one too)."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app, g, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from server.errors import Issue, ServiceError

log = logging.getLogger(__name__)

_HTTP_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
                     405: "not-supported", 409: "conflict", 412: "incomplete", 413: "too-costly",
                     415: "not-supported", 422: "processing"}


def operation_outcome(issues: list[Issue]) -> dict:
    out = []
    for i in issues:
        issue = {"severity": i.severity, "code": i.code, "diagnostics": i.diagnostics}
        if i.expression:
            issue["expression"] = list(i.expression)
        out.append(issue)
    return {"resourceType": "OperationOutcome", "issue": out}


def outcome_response(status: int, issues: list[Issue]):
    resp = jsonify(operation_outcome(issues))
    resp.status_code = status
    resp.mimetype = "application/fhir+json"
    return resp


# Statuses that are refusals of access (who is asking), as opposed to bad input.
REFUSAL_STATUSES = (401, 403, 429)
# Refusals are audited in the database at most once per window for the same actor, status and
# route; the others of the window are counted (and logged at info, without PHI), and the next
# row written carries that count: an attack costs no database write per request.
REFUSAL_WINDOW_SECONDS = 60.0
_REFUSALS_KEY = "oncopath.refusals"


class RefusalSampler:
    def __init__(self, window: float = REFUSAL_WINDOW_SECONDS):
        self.window = window
        self._lock = threading.Lock()
        self._seen: dict[tuple, list] = {}   # key -> [window start, refusals not written]

    def admit(self, key: tuple, now: float | None = None) -> int | None:
        """The number of refusals suppressed since the last row if this one is to be written,
        else None (counted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self.window:
                suppressed = entry[1] if entry else 0
                self._seen[key] = [now, 0]
                return suppressed
            entry[1] += 1
            return None


def _refused_actor() -> str:
    """Who was refused, without PHI: the signed-in reviewer if any, else the client address."""
    reviewer = getattr(g, "reviewer", None) or getattr(g, "portal_reviewer", None)
    name = getattr(reviewer, "username", None) or getattr(reviewer, "name", None)
    if name:
        return f"reviewer:{name}"
    return f"client:{request.remote_addr or 'unknown'}"


def audit_refusal(status: int, reason: str, *, actor: str | None = None) -> None:
    """An audit row for a refused request (401/403, or a case read refused as not the
    provider's): entity `access`, the route and method, the status and our own reason text —
    never the body, the query string or anything else from the request (PHI)."""
    if not has_request_context():
        return
    store = current_app.extensions.get("oncopath.store")
    if store is None or not hasattr(store, "uow"):
        return
    who = actor or _refused_actor()
    sampler = current_app.extensions.setdefault(_REFUSALS_KEY, RefusalSampler())
    suppressed = sampler.admit((who, status, request.endpoint))
    if suppressed is None:
        log.info("access refused %s %s %s (counted, not written)", status, request.method, request.endpoint)
        return
    try:
        with store.uow() as uow:
            after = {"status": status, "endpoint": request.endpoint, "reason": reason[:300]}
            if suppressed:
                after["refusedSinceLastRow"] = suppressed
            uow.audit.record(actor=who[:200], action=f"access.refused.{status}",
                             entity="access", entity_id=f"{request.method} {request.path}"[:512],
                             after=after)
            uow.commit()
    except Exception as exc:   # an audit failure must not turn a 401 into a 500
        log.warning("refusal could not be audited (%s)", type(exc).__name__)


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(err: ServiceError):
        if err.status in REFUSAL_STATUSES or err.audit:
            audit_refusal(err.status, err.audit or "; ".join(i.diagnostics for i in err.issues))
        resp = outcome_response(err.status, err.issues)
        for name, value in (getattr(err, "headers", None) or {}).items():
            resp.headers[name] = value
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        description = err.description or err.name
        if status == 413:   # Werkzeug's own cut of a body without Content-Length
            description = (f"the body is larger than {app.config.get('MAX_CONTENT_LENGTH')} bytes "
                           f"(MAX_CONTENT_LENGTH)")
        return outcome_response(status, [Issue(_HTTP_ISSUE_CODES.get(status, "exception"), description)])

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        # Log the type only at error level: exception text may carry PHI from the request.
        log.error("unhandled %s", type(err).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
        return outcome_response(500, [Issue("exception", "internal error; the request was not stored")])
