"""Tables of the clinical review workflow and of pended-result notifications (revision 0002).

- `reviewers`: nurse and physician reviewer accounts (password hashed with scrypt + salt).
- `reviewer_tokens`: API bearer tokens, stored as SHA-256 of the random token, with expiry.
- `review_actions`: every reviewer (or clock) action on a case, in order; the review state
  machine folds them (server/review/workflow.py).
- `subscriptions`: PAS R4 backport Subscriptions (rest-hook), with their event counter.
- `notifications`: the outbox — one row per (subscription, event), delivered by a worker.
- `deliveries`: every delivery attempt (status code or error).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, Json, UtcDateTime


class ReviewerRow(Base):
    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))                  # nurse | physician
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewerTokenRow(Base):
    __tablename__ = "reviewer_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewActionRow(Base):
    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("cases.order_id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String(16))                  # nurse | physician | system
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[Any] = mapped_column(Json, nullable=True)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_identifier: Mapped[str] = mapped_column(String, index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))                # requested | active | off | error
    resource: Mapped[Any] = mapped_column(Json)
    events_since_start: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationRow(Base):
    """Outbox: written in the transaction of the decision, delivered later by the worker."""
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(64), index=True)
    order_id: Mapped[str] = mapped_column(String(16), index=True)
    event_number: Mapped[int] = mapped_column(Integer)
    payload: Mapped[Any] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))                # pending | delivered | failed | dropped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)


class DeliveryRow(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
