"""What the fuzz tests and `python -m reliability.fuzz` share: an app with a pinned clock and a
physician reviewer, row counts of every table, and the properties every answer must have."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
# Fixture treatment starts 2026-12-01: requests "arrive" a little before it.
CLOCK = datetime(2026, 11, 22, 14, 0, tzinfo=timezone.utc)
REVIEWER = ("fuzz-physician", "fuzz-password-123456")


def make_app(database_url: str, **config):
    """JWT verification off and the FHIR door open (as `make serve`): fuzzing and the NPI-level
    access tests reach every route's own checks; tests/security covers the door's tokens."""
    from server.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CDS_JWT_REQUIRED": False,
                      "FHIR_AUTH_REQUIRED": False, **config})
    app.extensions["oncopath.clock"] = lambda: CLOCK
    return app


def reviewer_token(app) -> str:
    """A physician reviewer's bearer token (the account is created once per app)."""
    from server.review.accounts import hash_password

    service = app.extensions["oncopath.review"]
    if service.reviews.reviewer_by_username(REVIEWER[0]) is None:
        service.reviews.add_reviewer(REVIEWER[0], "physician", hash_password(REVIEWER[1]), now=CLOCK)
    resp = app.test_client().post("/review/api/token", json={"username": REVIEWER[0], "password": REVIEWER[1]})
    assert resp.status_code == 200, resp.data
    return resp.get_json()["access_token"]


def writes(app) -> dict[str, int]:
    """Rows in every table — except the audit rows of refused access (those are the point)."""
    from server.store.models import AuditRow, Base

    store = app.extensions["oncopath.store"]
    with store.uow() as uow:
        out = {}
        for table in Base.metadata.sorted_tables:
            stmt = select(func.count()).select_from(table)
            if table.name == AuditRow.__tablename__:
                stmt = stmt.where(table.c.entity != "access")
            out[table.name] = uow.session.scalar(stmt) or 0
        return out


def is_operation_outcome(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return (isinstance(doc, dict) and doc.get("resourceType") == "OperationOutcome"
            and isinstance(doc.get("issue"), list) and len(doc["issue"]) >= 1
            and all(isinstance(i, dict) and i.get("severity") and i.get("code") for i in doc["issue"]))


def is_oauth_error(body: bytes) -> bool:
    """An OAuth 2.0 error answer (RFC 6749 §5.2), as the token endpoint must give."""
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("error"), str)


def problems(status: int, content_type: str, body: bytes, before: dict, after: dict,
             path: str | None = None) -> list[str]:
    """What is wrong with one answer: a 5xx; a 4xx that is not an OperationOutcome (the portal's
    HTML pages for people, and the OAuth token endpoint's own error format, excepted); anything
    written for a rejected request."""
    out = []
    if status >= 500:
        out.append(f"server error {status}: {body[:200]!r}")
    oauth = path == "/oauth/token" and is_oauth_error(body)
    if 400 <= status < 500 and not content_type.startswith("text/html") and not oauth \
            and not is_operation_outcome(body):
        out.append(f"{status} without an OperationOutcome: {content_type} {body[:200]!r}")
    if status >= 400 and before != after:
        changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
        out.append(f"rejected request ({status}) wrote rows: {changed}")
    return out


def load_fixture(relative: str) -> dict:
    return json.loads((FIXTURES / relative).read_text())
