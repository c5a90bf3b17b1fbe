"""Reviewer accounts and their API bearer tokens (stored as hashes only)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.errors import Conflict, Issue, NotFound
from server.store.review_models import ReviewerRow, ReviewerTokenRow
from server.store.service import CaseStore, _utc


@dataclass(frozen=True)
class Reviewer:
    id: int
    username: str
    role: str
    password_hash: str
    active: bool


def _reviewer(row: ReviewerRow) -> Reviewer:
    return Reviewer(row.id, row.username, row.role, row.password_hash, row.active)


class ReviewerAccounts:
    def __init__(self, cases: CaseStore):
        self._uow = cases.uow

    def add_reviewer(self, username: str, role: str, password_hash: str, *, now: datetime,
                     actor: str = "cli") -> Reviewer:
        with self._uow() as uow:
            row = ReviewerRow(username=username, role=role, password_hash=password_hash, active=True,
                              created_at=now)
            uow.session.add(row)
            try:
                uow.session.flush()
            except IntegrityError:
                raise Conflict(Issue("duplicate", f"reviewer {username!r} already exists"))
            uow.audit.record(actor=actor, action="reviewer.create", entity="reviewer", entity_id=username,
                             after={"role": role})
            uow.commit()
            return _reviewer(row)

    def set_password(self, username: str, password_hash: str, *, actor: str = "cli") -> None:
        with self._uow() as uow:
            row = uow.session.scalars(select(ReviewerRow).where(ReviewerRow.username == username)).first()
            if row is None:
                raise NotFound(f"reviewer {username!r} not found")
            row.password_hash = password_hash
            uow.audit.record(actor=actor, action="reviewer.password", entity="reviewer", entity_id=username)
            uow.commit()

    def reviewer_by_username(self, username: str) -> Reviewer | None:
        with self._uow() as uow:
            row = uow.session.scalars(select(ReviewerRow).where(ReviewerRow.username == username)).first()
            return _reviewer(row) if row else None

    def reviewer_by_id(self, reviewer_id: int) -> Reviewer | None:
        with self._uow() as uow:
            row = uow.session.get(ReviewerRow, reviewer_id)
            return _reviewer(row) if row else None

    def add_token(self, token_hash: str, reviewer_id: int, *, now: datetime, expires_at: datetime) -> None:
        with self._uow() as uow:
            uow.session.add(ReviewerTokenRow(token_hash=token_hash, reviewer_id=reviewer_id, created_at=now,
                                             expires_at=expires_at))
            uow.commit()

    def reviewer_for_token(self, token_hash: str, *, now: datetime) -> Reviewer | None:
        with self._uow() as uow:
            tok = uow.session.get(ReviewerTokenRow, token_hash)
            if tok is None or _utc(tok.expires_at) <= now:
                return None
            row = uow.session.get(ReviewerRow, tok.reviewer_id)
            return _reviewer(row) if row and row.active else None
