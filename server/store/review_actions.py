"""Review actions on a case, and `apply_review`: the unit of work of one reviewer action.

`apply_review(...)` is ONE transaction that checks the case revision (two reviewers acting on
the same case at once: the second gets a Conflict), writes the review action, the new
status/decision/response, a case event, an audit row (before/after) and, for a decision, one
outbox notification per matching Subscription (`outbox.enqueue`, in the same transaction).
`record_action` writes an action that changes nothing on the case itself (the clock's
escalation), optionally only if a condition still holds under the case's row lock."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.errors import Conflict, Issue, NotFound
from server.store import outbox, serialize
from server.store.models import CaseEventRow
from server.store.review_models import ReviewActionRow
from server.store.service import CaseRecord, CaseStore, _utc


@dataclass(frozen=True)
class ReviewAction:
    id: int
    order_id: str
    at: datetime
    actor: str
    role: str
    action: str
    detail: dict


def _action(row: ReviewActionRow) -> ReviewAction:
    return ReviewAction(row.id, row.order_id, _utc(row.at), row.actor, row.role, row.action, row.detail or {})


def _actions_of(session, order_id: str) -> list[ReviewAction]:
    stmt = select(ReviewActionRow).where(ReviewActionRow.order_id == order_id).order_by(ReviewActionRow.id)
    return [_action(r) for r in session.scalars(stmt)]


class ReviewActions:
    def __init__(self, cases: CaseStore):
        self._uow = cases.uow

    def review_actions(self, order_id: str) -> list[ReviewAction]:
        with self._uow() as uow:
            return _actions_of(uow.session, order_id)

    def actions_for(self, order_ids: Iterable[str]) -> dict[str, list[ReviewAction]]:
        ids = list(order_ids)
        out: dict[str, list[ReviewAction]] = {i: [] for i in ids}
        if not ids:
            return out
        with self._uow() as uow:
            stmt = select(ReviewActionRow).where(ReviewActionRow.order_id.in_(ids)).order_by(ReviewActionRow.id)
            for r in uow.session.scalars(stmt):
                out[r.order_id].append(_action(r))
        return out

    def record_action(self, order_id: str, *, actor: str, role: str, action: str, detail: dict, now: datetime,
                      only_if: Callable[[CaseRecord, list[ReviewAction]], bool] | None = None) -> bool:
        """An action that changes nothing on the case itself (e.g. the clock's escalation), with
        its audit row. `only_if(case, actions)` is checked under the case's row lock (SQLite: the
        write lock), so that concurrent writers record it once; False ⇒ nothing written."""
        with self._uow() as uow:
            if only_if is not None:
                row = uow.cases.get(order_id, for_update=True)
                if row is None or not only_if(CaseRecord.of(row), _actions_of(uow.session, order_id)):
                    return False
            uow.session.add(ReviewActionRow(order_id=order_id, at=now, actor=actor, role=role, action=action,
                                            detail=detail))
            uow.audit.record(actor=actor, action=f"review.{action}", entity="case", entity_id=order_id,
                             after=detail)
            uow.commit()
            return True

    def apply_review(self, order_id: str, *, expected_revision: int, actor: str, role: str, action: str,
                     detail: dict, now: datetime, status: str, decision=None, response: Any = None,
                     note: str | None = None, before: dict | None = None, after: dict | None = None,
                     notify_org_ids: Iterable[str] = (),
                     build_notification: Callable[[dict, int], dict] | None = None) -> CaseRecord:
        """One reviewer action, atomically (see the module docstring)."""
        with self._uow() as uow:
            row = uow.cases.get(order_id, for_update=True)
            if row is None:
                raise NotFound(f"case {order_id} not found")
            if row.revision != expected_revision:
                raise Conflict(Issue("conflict", f"case {order_id} changed while you were reviewing it "
                                                 f"(revision {row.revision}, expected {expected_revision}); "
                                                 "reload it and try again"))
            row.status = status
            row.updated_at = now
            row.revision += 1
            if decision is not None:
                row.decision = serialize.decision_to_dict(decision)
                if status == "In Progress" and decision.due_by is not None:
                    row.due_by = decision.due_by      # a reconsideration has its own turnaround
            if response is not None:
                uow.cases.keep_first_response(row)
                row.response = response
            uow.session.add(ReviewActionRow(order_id=order_id, at=now, actor=actor, role=role, action=action,
                                            detail=detail))
            uow.cases.add_event(CaseEventRow(order_id=order_id, at=now, kind="review", status=status,
                                             actor=actor, note=note or action))
            uow.audit.record(actor=actor, action=f"review.{action}", entity="case", entity_id=order_id,
                             before=before, after=(after or {}) | {"status": status, "revision": row.revision})
            if build_notification is not None:
                outbox.enqueue(uow.session, order_id=order_id, org_ids=notify_org_ids, now=now,
                               build_notification=build_notification)
            uow.commit()
            return CaseRecord.of(row)


def latest_request_bundle(store: CaseStore, order_id: str) -> Any:
    """The newest PAS request of a case (an update's Bundle replaces the original one)."""
    with store.uow() as uow:
        row = uow.cases.get(order_id)
        if row is None:
            return None
        for event in reversed(uow.cases.events(order_id)):
            if isinstance(event.raw_request, dict) and event.raw_request.get("resourceType") == "Bundle":
                return event.raw_request
        return row.raw_request
