"""ReviewStore: persistence of the clinical review workflow and of notifications.

It shares the CaseStore's engine (same database, same migrations) and adds, without
changing the CaseStore API:

- reviewer accounts and bearer tokens (`add_reviewer`, `reviewer_by_username`,
  `add_token`, `reviewer_for_token`);
- `review_actions(order_id)`, `pended_cases()`, `cases_received_between(start, end)`;
- `apply_review(...)`: ONE transaction that checks the case revision (two reviewers acting on
  the same case at once: the second gets a Conflict), writes the review action, the new
  status/decision/response, a case event, an audit row (before/after) and, for a decision,
  one outbox notification per matching Subscription (its event counter incremented);
- Subscriptions (`add_subscription`, `get_subscription`, `delete_subscription`);
- the outbox (`claim_due_notifications`, `record_attempt`, `notifications_for`,
  `deliveries_for`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.errors import Conflict, Issue, NotFound
from server.store import serialize
from server.store.models import CaseEventRow, CaseRow
from server.store.review_models import (
    DeliveryRow,
    NotificationRow,
    ReviewActionRow,
    ReviewerRow,
    ReviewerTokenRow,
    SubscriptionRow,
)
from server.store.service import CaseRecord, CaseStore, _utc


@dataclass(frozen=True)
class Reviewer:
    id: int
    username: str
    role: str
    password_hash: str
    active: bool


@dataclass(frozen=True)
class ReviewAction:
    id: int
    order_id: str
    at: datetime
    actor: str
    role: str
    action: str
    detail: dict


@dataclass(frozen=True)
class Notification:
    id: int
    subscription_id: str
    order_id: str
    event_number: int
    payload: dict
    status: str
    attempts: int
    next_attempt_at: datetime
    endpoint: str | None = None


@dataclass(frozen=True)
class Delivery:
    notification_id: int
    at: datetime
    attempt: int
    status_code: int | None
    ok: bool
    error: str | None


def _reviewer(row: ReviewerRow) -> Reviewer:
    return Reviewer(row.id, row.username, row.role, row.password_hash, row.active)


def _action(row: ReviewActionRow) -> ReviewAction:
    return ReviewAction(row.id, row.order_id, _utc(row.at), row.actor, row.role, row.action, row.detail or {})


def _notification(row: NotificationRow, endpoint: str | None = None) -> Notification:
    return Notification(row.id, row.subscription_id, row.order_id, row.event_number, row.payload,
                        row.status, row.attempts, _utc(row.next_attempt_at), endpoint)


class ReviewStore:
    def __init__(self, cases: CaseStore):
        self.cases = cases
        self._uow = cases.uow

    # -- reviewers and tokens -------------------------------------------------------------

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

    # -- cases under review ---------------------------------------------------------------

    def review_actions(self, order_id: str) -> list[ReviewAction]:
        with self._uow() as uow:
            stmt = select(ReviewActionRow).where(ReviewActionRow.order_id == order_id).order_by(ReviewActionRow.id)
            return [_action(r) for r in uow.session.scalars(stmt)]

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

    def pended_cases(self) -> list[CaseRecord]:
        with self._uow() as uow:
            stmt = select(CaseRow).where(CaseRow.status == "In Progress").order_by(CaseRow.due_by, CaseRow.received_at)
            return [CaseRecord.of(r) for r in uow.session.scalars(stmt)]

    def cases_received_between(self, start: datetime, end: datetime) -> list[CaseRecord]:
        with self._uow() as uow:
            stmt = (select(CaseRow).where(CaseRow.received_at >= start, CaseRow.received_at < end)
                    .order_by(CaseRow.received_at))
            return [CaseRecord.of(r) for r in uow.session.scalars(stmt)]

    def record_action(self, order_id: str, *, actor: str, role: str, action: str, detail: dict,
                      now: datetime) -> None:
        """An action that changes nothing on the case itself (e.g. the clock's escalation)."""
        with self._uow() as uow:
            uow.session.add(ReviewActionRow(order_id=order_id, at=now, actor=actor, role=role, action=action,
                                            detail=detail))
            uow.audit.record(actor=actor, action=f"review.{action}", entity="case", entity_id=order_id,
                             after=detail)
            uow.commit()

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
            org_ids = sorted({i for i in notify_org_ids if i})
            if org_ids and build_notification is not None:
                subs = uow.session.scalars(
                    select(SubscriptionRow).where(SubscriptionRow.org_identifier.in_(org_ids),
                                                  SubscriptionRow.status.in_(("requested", "active")))
                    .order_by(SubscriptionRow.id).with_for_update()).all()
                for sub in subs:
                    sub.events_since_start += 1
                    payload = build_notification(sub.resource, sub.events_since_start)
                    uow.session.add(NotificationRow(subscription_id=sub.id, order_id=order_id,
                                                    event_number=sub.events_since_start, payload=payload,
                                                    status="pending", attempts=0, next_attempt_at=now,
                                                    created_at=now))
            uow.commit()
            return CaseRecord.of(row)

    # -- subscriptions --------------------------------------------------------------------

    def add_subscription(self, sub_id: str, *, org_identifier: str, endpoint: str, resource: dict,
                         now: datetime, actor: str) -> dict:
        with self._uow() as uow:
            uow.session.add(SubscriptionRow(id=sub_id, org_identifier=org_identifier, endpoint=endpoint,
                                            status=resource.get("status", "active"), resource=resource,
                                            events_since_start=0, created_at=now))
            uow.audit.record(actor=actor, action="subscription.create", entity="subscription", entity_id=sub_id,
                             after={"orgIdentifier": org_identifier, "endpoint": endpoint})
            uow.commit()
            return resource

    def get_subscription(self, sub_id: str) -> tuple[dict, int] | None:
        with self._uow() as uow:
            row = uow.session.get(SubscriptionRow, sub_id)
            return (row.resource, row.events_since_start) if row else None

    def delete_subscription(self, sub_id: str, *, actor: str) -> bool:
        with self._uow() as uow:
            row = uow.session.get(SubscriptionRow, sub_id)
            if row is None:
                return False
            # Undelivered notifications of a deleted subscription are dropped, not sent.
            uow.session.execute(update(NotificationRow)
                                .where(NotificationRow.subscription_id == sub_id,
                                       NotificationRow.status == "pending").values(status="dropped"))
            uow.session.delete(row)
            uow.audit.record(actor=actor, action="subscription.delete", entity="subscription", entity_id=sub_id)
            uow.commit()
            return True

    # -- outbox ---------------------------------------------------------------------------

    def claim_due_notifications(self, now: datetime, *, lease: timedelta, limit: int = 20) -> list[Notification]:
        """Due notifications, leased to the caller (next_attempt_at pushed by `lease`, so that
        another worker process does not send them at the same time)."""
        with self._uow() as uow:
            stmt = (select(NotificationRow)
                    .where(NotificationRow.status == "pending", NotificationRow.next_attempt_at <= now)
                    .order_by(NotificationRow.next_attempt_at, NotificationRow.id).limit(limit))
            if uow.session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(uow.session.scalars(stmt))
            out = []
            for row in rows:
                sub = uow.session.get(SubscriptionRow, row.subscription_id)
                if sub is None:
                    row.status = "dropped"
                    continue
                row.next_attempt_at = now + lease
                out.append(_notification(row, sub.endpoint))
            uow.commit()
            return out

    def record_attempt(self, notification_id: int, *, at: datetime, ok: bool, status_code: int | None,
                       error: str | None, next_attempt_at: datetime | None) -> None:
        """One delivery attempt. ok ⇒ delivered; else retried at next_attempt_at, or failed for
        good when it is None."""
        with self._uow() as uow:
            row = uow.session.get(NotificationRow, notification_id)
            row.attempts += 1
            uow.session.add(DeliveryRow(notification_id=notification_id, at=at, attempt=row.attempts,
                                        status_code=status_code, ok=ok, error=error))
            if ok:
                row.status, row.delivered_at = "delivered", at
            elif next_attempt_at is None:
                row.status = "failed"
            else:
                row.next_attempt_at = next_attempt_at
            uow.commit()

    def notifications_for(self, order_id: str | None = None) -> list[Notification]:
        with self._uow() as uow:
            stmt = select(NotificationRow).order_by(NotificationRow.id)
            if order_id:
                stmt = stmt.where(NotificationRow.order_id == order_id)
            return [_notification(r) for r in uow.session.scalars(stmt)]

    def deliveries_for(self, notification_id: int) -> list[Delivery]:
        with self._uow() as uow:
            stmt = select(DeliveryRow).where(DeliveryRow.notification_id == notification_id).order_by(DeliveryRow.id)
            return [Delivery(r.notification_id, _utc(r.at), r.attempt, r.status_code, r.ok, r.error)
                    for r in uow.session.scalars(stmt)]


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
