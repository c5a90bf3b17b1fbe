"""Read-only queries over cases under review: the reviewers' queue, the CMS-0057-F metrics
period, and the overdue cases the deadline sweep looks at."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from server.store.models import CaseRow
from server.store.service import CaseRecord, CaseStore, _utc

IN_PROGRESS = "In Progress"


class ReviewReports:
    def __init__(self, cases: CaseStore):
        self._uow = cases.uow

    def pended_cases(self) -> list[CaseRecord]:
        with self._uow(read_only=True) as uow:
            stmt = select(CaseRow).where(CaseRow.status == IN_PROGRESS).order_by(CaseRow.due_by, CaseRow.received_at)
            return [CaseRecord.of(r) for r in uow.session.scalars(stmt)]

    def cases_received_between(self, start: datetime, end: datetime) -> list[CaseRecord]:
        with self._uow(read_only=True) as uow:
            stmt = (select(CaseRow).where(CaseRow.received_at >= start, CaseRow.received_at < end)
                    .order_by(CaseRow.received_at))
            return [CaseRecord.of(r) for r in uow.session.scalars(stmt)]

    def overdue_cases(self, now: datetime) -> list[tuple[str, datetime]]:
        """(Order ID, due-by) of every pended case past due at `now`, earliest due first: two
        columns, not the cases' JSON (the sweep runs every minute)."""
        with self._uow(read_only=True) as uow:
            stmt = (select(CaseRow.order_id, CaseRow.due_by)
                    .where(CaseRow.status == IN_PROGRESS, CaseRow.due_by.is_not(None), CaseRow.due_by < now.astimezone(timezone.utc))
                    .order_by(CaseRow.due_by, CaseRow.order_id))
            return [(r.order_id, _utc(r.due_by)) for r in uow.session.execute(stmt)]
