"""The one place that turns errors into OperationOutcome responses (a 500 is one too)."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
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


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(err: ServiceError):
        return outcome_response(err.status, err.issues)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        return outcome_response(status, [Issue(_HTTP_ISSUE_CODES.get(status, "exception"),
                                               err.description or err.name)])

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        # Log the type only at error level: exception text may carry PHI from the request.
        log.error("unhandled %s", type(err).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
        return outcome_response(500, [Issue("exception", "internal error; the request was not stored")])
