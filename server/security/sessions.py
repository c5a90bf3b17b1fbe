"""Server-side portal sessions: the signed cookie holds a random session id, the database
holds its SHA-256 with the reviewer and an expiry. Signing out deletes the row, so a copy of
the cookie taken before is worthless afterwards (a cookie-only Flask session stays valid
until its signature key changes)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app, session
from sqlalchemy import delete

from server.store.client_models import PortalSessionRow

SESSION_TTL = timedelta(hours=8)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def _uow(**kw):
    return current_app.extensions["oncopath.store"].uow(**kw)


def start(reviewer_id: int, now: datetime | None = None) -> None:
    """After a successful sign-in: a fresh session (old keys dropped), its row stored."""
    now = now or datetime.now(timezone.utc)
    sid = secrets.token_urlsafe(32)
    with _uow() as uow:
        uow.session.add(PortalSessionRow(session_hash=_hash(sid), reviewer_id=reviewer_id, created_at=now,
                                         expires_at=now + SESSION_TTL))
        uow.session.execute(delete(PortalSessionRow).where(PortalSessionRow.expires_at < now))
        uow.commit()
    session.clear()
    session["sid"] = sid
    session["reviewer_id"] = reviewer_id


def reviewer_id(now: datetime | None = None) -> int | None:
    """The signed-in reviewer's id if the session is on file and current, else None."""
    sid, rid = session.get("sid"), session.get("reviewer_id")
    if not isinstance(sid, str) or not isinstance(rid, int):
        return None
    now = now or datetime.now(timezone.utc)
    with _uow(read_only=True) as uow:
        row = uow.session.get(PortalSessionRow, _hash(sid))
        if row is None or row.reviewer_id != rid:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
        return rid if expires > now else None


def end() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        with _uow() as uow:
            uow.session.execute(delete(PortalSessionRow).where(PortalSessionRow.session_hash == _hash(sid)))
            uow.commit()
    session.clear()
