"""Tables of the case store (SQLAlchemy 2.0 typed models).

Columns filled from request data are unbounded strings: a long identifier must never turn
into a database error (a 500) on PostgreSQL.

The schema itself is created and evolved by the Alembic revisions in `migrations/versions/`,
not by `create_all`; a test holds the two to agreement (tests/test_migrations.py).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Json = JSON().with_variant(JSONB(), "postgresql")
UtcDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    """One prior-authorization case (a whole regimen, R1), whichever door it came through."""
    __tablename__ = "cases"

    order_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(8))                 # pas | cds
    request_key: Mapped[str] = mapped_column(String, unique=True)
    member_id: Mapped[str | None] = mapped_column(String, index=True)
    provider_npi: Mapped[str | None] = mapped_column(String)
    payer_id: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    raw_request: Mapped[Any] = mapped_column(Json)
    order: Mapped[Any] = mapped_column(Json)
    decision: Mapped[Any] = mapped_column(Json)
    response: Mapped[Any] = mapped_column(Json)
    kb_version: Mapped[str | None] = mapped_column(String)
    # Denormalized for history_for_member (R7, R8, R15): no JSON digging at decision time.
    drug_keys: Mapped[Any] = mapped_column(Json, default=list)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    regimen_id: Mapped[str | None] = mapped_column(String)
    s0353_awarded_on: Mapped[date | None] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_cases_member_provider", "member_id", "provider_npi"),)


class CaseEventRow(Base):
    """Status history of a case. An update/cancel request keeps its own request_key here,
    so that resubmitting it is idempotent too."""
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("cases.order_id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(32))                   # created | updated | cancelled | status
    status: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String)
    note: Mapped[str | None] = mapped_column(Text)
    request_key: Mapped[str | None] = mapped_column(String, unique=True)
    raw_request: Mapped[Any] = mapped_column(Json, nullable=True)
    response: Mapped[Any] = mapped_column(Json, nullable=True)


class AuditRow(Base):
    """Every change: who, when, what, before and after."""
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))                 # "case" | "feedback"
    entity_id: Mapped[str] = mapped_column(String, index=True)
    before: Mapped[Any] = mapped_column(Json, nullable=True)
    after: Mapped[Any] = mapped_column(Json, nullable=True)


class FeedbackRow(Base):
    """One CDS Hooks feedback entry (CDS Hooks 2.0 §Feedback)."""
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String, index=True)
    card: Mapped[str | None] = mapped_column(String)
    outcome: Mapped[str | None] = mapped_column(String)
    outcome_timestamp: Mapped[str | None] = mapped_column(String)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    body: Mapped[Any] = mapped_column(Json)

