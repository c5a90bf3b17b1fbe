"""Repository + unit of work over SQLAlchemy (Cosmic Python, chapters 2 and 6).

A `UnitOfWork` is one transaction: `with store.uow() as uow: ...; uow.commit()`. Leaving the
block without commit rolls back. Repositories only add and query rows; they never commit.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.store.models import AuditRow, CaseEventRow, CaseRow, FeedbackRow


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CaseRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, row: CaseRow) -> None:
        self.session.add(row)

    def get(self, order_id: str, *, for_update: bool = False) -> CaseRow | None:
        stmt = select(CaseRow).where(CaseRow.order_id == order_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def by_request_key(self, key: str) -> CaseRow | None:
        return self.session.scalars(select(CaseRow).where(CaseRow.request_key == key)).first()

    def with_request_key_prefix(self, key: str) -> list[CaseRow]:
        """Cases whose own request key is `key` or `key#...` (one identifier reused by several
        different requests, see CaseService), oldest first. A range scan on the unique index."""
        stmt = (select(CaseRow).where((CaseRow.request_key == key)
                                      | ((CaseRow.request_key > key + "#") & (CaseRow.request_key < key + "$")))
                .order_by(CaseRow.received_at))
        return list(self.session.scalars(stmt))

    def event_by_request_key(self, key: str) -> CaseEventRow | None:
        return self.session.scalars(select(CaseEventRow).where(CaseEventRow.request_key == key)).first()

    def for_member(self, member_id: str) -> list[CaseRow]:
        stmt = select(CaseRow).where(CaseRow.member_id == member_id).order_by(CaseRow.received_at)
        return list(self.session.scalars(stmt))

    def for_inquiry(self, member_ids: Iterable[str], provider_npi: str) -> list[CaseRow]:
        stmt = (select(CaseRow)
                .where(CaseRow.member_id.in_(list(member_ids)), CaseRow.provider_npi == provider_npi)
                .order_by(CaseRow.received_at))
        return list(self.session.scalars(stmt))

    def add_event(self, row: CaseEventRow) -> None:
        self.session.add(row)

    def keep_first_response(self, row: CaseRow) -> None:
        """Call before a case's response changes. A new case stores its response on the case row
        only; once that is replaced, the 'created' event keeps the first one, so the request
        that created the case is answered again as it was the first time."""
        created = self.session.scalars(
            select(CaseEventRow).where(CaseEventRow.order_id == row.order_id, CaseEventRow.kind == "created")
        ).first()
        if created is not None and created.response is None:
            created.response = row.response

    def events(self, order_id: str) -> list[CaseEventRow]:
        stmt = select(CaseEventRow).where(CaseEventRow.order_id == order_id).order_by(CaseEventRow.id)
        return list(self.session.scalars(stmt))


class AuditRepository:
    def __init__(self, session: Session):
        self.session = session

    def record(self, *, actor: str, action: str, entity: str, entity_id: str,
               before: Any = None, after: Any = None) -> None:
        self.session.add(AuditRow(at=utcnow(), actor=actor, action=action, entity=entity,
                                  entity_id=entity_id, before=before, after=after))

    def for_entity(self, entity_id: str) -> list[AuditRow]:
        stmt = select(AuditRow).where(AuditRow.entity_id == entity_id).order_by(AuditRow.id)
        return list(self.session.scalars(stmt))


class FeedbackRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, row: FeedbackRow) -> None:
        self.session.add(row)

    def for_service(self, service_id: str) -> list[FeedbackRow]:
        stmt = select(FeedbackRow).where(FeedbackRow.service_id == service_id).order_by(FeedbackRow.id)
        return list(self.session.scalars(stmt))


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker):
        self._factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> "UnitOfWork":
        self.session = self._factory()
        self.cases = CaseRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.feedback = FeedbackRepository(self.session)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.session.rollback()   # no-op after commit; undoes anything uncommitted
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def count(self, model) -> int:
        return self.session.scalar(select(func.count()).select_from(model)) or 0
