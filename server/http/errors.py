"""The one place that turns errors into OperationOutcome responses (a 500 is one too)."""
from __future__ import annotations

import logging

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
REFUSAL_STATUSES = (401, 403)


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
    try:
        with store.uow() as uow:
            uow.audit.record(actor=actor or _refused_actor(), action=f"access.refused.{status}",
                             entity="access", entity_id=f"{request.method} {request.path}"[:512],
                             after={"status": status, "endpoint": request.endpoint, "reason": reason[:300]})
            uow.commit()
    except Exception as exc:   # an audit failure must not turn a 401 into a 500
        log.warning("refusal could not be audited (%s)", type(exc).__name__)


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(err: ServiceError):
        if err.status in REFUSAL_STATUSES or err.audit:
            audit_refusal(err.status, err.audit or "; ".join(i.diagnostics for i in err.issues))
        return outcome_response(err.status, err.issues)

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
