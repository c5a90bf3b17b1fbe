"""Typed errors, turned into an OperationOutcome in exactly one place (server/http/errors.py)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Issue:
    """One OperationOutcome.issue."""
    code: str                         # FHIR issue-type: invalid, structure, required, value, not-found, ...
    diagnostics: str
    severity: str = "error"
    expression: list[str] = field(default_factory=list)


class ServiceError(Exception):
    """Base of every error that becomes an HTTP answer with an OperationOutcome."""
    status = 500

    def __init__(self, issues: list[Issue] | Issue | str, status: int | None = None, *,
                 audit: str | None = None):
        """`audit`: a refusal worth an audit row (our own words, no PHI), e.g. a provider
        asking about another provider's case; the HTTP error handler writes it."""
        self.audit = audit
        if isinstance(issues, str):
            issues = [Issue("exception", issues)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues = issues
        if status is not None:
            self.status = status
        super().__init__("; ".join(i.diagnostics for i in issues))


class BadRequest(ServiceError):
    """Unparseable or structurally invalid input (400)."""
    status = 400


class Unprocessable(ServiceError):
    """Parsed, but breaks a rule of the IG or the program (422)."""
    status = 422


class PreconditionFailed(ServiceError):
    """CDS Hooks: required data could not be had (412)."""
    status = 412


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class PayloadTooLarge(ServiceError):
    status = 413
