"""The notification outbox: one row per (Subscription, event), written in the transaction of
the decision that caused it (`enqueue`, inside the caller's session), delivered later by the
worker (`Outbox.claim_due_notifications`, `Outbox.record_attempt`; see server/notify/delivery.py)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.store.review_models import DeliveryRow, NotificationRow, SubscriptionRow
from server.store.service import CaseStore, _utc

_LIVE = ("requested", "active")


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


def _notification(row: NotificationRow, endpoint: str | None = None) -> Notification:
    return Notification(row.id, row.subscription_id, row.order_id, row.event_number, row.payload,
                        row.status, row.attempts, _utc(row.next_attempt_at), endpoint)


def enqueue(session: Session, *, order_id: str, org_ids: Iterable[str], now: datetime,
            build_notification: Callable[[dict, int], dict]) -> int:
    """In the caller's transaction: one pending notification per live Subscription whose
    orgIdentifier is one of `org_ids` (its event counter incremented, row locked). Returns how many."""
    org_ids = sorted({i for i in org_ids if i})
    if not org_ids:
        return 0
    subs = session.scalars(
        select(SubscriptionRow).where(SubscriptionRow.org_identifier.in_(org_ids), SubscriptionRow.status.in_(_LIVE))
        .order_by(SubscriptionRow.id).with_for_update()).all()
    for sub in subs:
        sub.events_since_start += 1
        payload = build_notification(sub.resource, sub.events_since_start)
        session.add(NotificationRow(subscription_id=sub.id, order_id=order_id, event_number=sub.events_since_start,
                                    payload=payload, status="pending", attempts=0, next_attempt_at=now,
                                    created_at=now))
    return len(subs)


def drop_pending(session: Session, subscription_id: str) -> None:
    """In the caller's transaction: a deleted Subscription's undelivered notifications are dropped, not sent."""
    session.execute(update(NotificationRow)
                    .where(NotificationRow.subscription_id == subscription_id, NotificationRow.status == "pending")
                    .values(status="dropped"))


class Outbox:
    def __init__(self, cases: CaseStore):
        self._uow = cases.uow

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
