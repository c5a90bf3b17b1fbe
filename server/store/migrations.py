"""A tiny versioned migration runner.

`schema_version` holds one row per applied migration. `MIGRATIONS` is an ordered list of
(version, description, function(connection)); `migrate(engine)` applies the missing ones in
one transaction at start-up. On PostgreSQL an advisory lock makes concurrent start-ups of
several app processes wait for each other; on SQLite `BEGIN IMMEDIATE` does the same.

Rule for later migrations: write explicit DDL (`ALTER TABLE ...`) in a new function; never
edit an applied one. Migration 1 creates the tables as `models.py` first defined them.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import Connection, Engine, func, insert, select, text

from server.store.models import AuditRow, Base, CaseEventRow, CaseRow, FeedbackRow, SchemaVersionRow

_PG_LOCK_KEY = 0x6F6E636F  # "onco"


def _m001_initial(conn: Connection) -> None:
    tables = [CaseRow.__table__, CaseEventRow.__table__, AuditRow.__table__, FeedbackRow.__table__]
    Base.metadata.create_all(conn, tables=tables, checkfirst=True)


def _m002_review_and_notifications(conn: Connection) -> None:
    from server.store import review_models as rm

    tables = [rm.ReviewerRow.__table__, rm.ReviewerTokenRow.__table__, rm.ReviewActionRow.__table__,
              rm.SubscriptionRow.__table__, rm.NotificationRow.__table__, rm.DeliveryRow.__table__]
    Base.metadata.create_all(conn, tables=tables, checkfirst=True)


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "cases, case_events, audit, feedback", _m001_initial),
    (2, "reviewers, tokens, review actions, subscriptions, notifications, deliveries",
     _m002_review_and_notifications),
]

LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    return conn.scalar(select(func.max(SchemaVersionRow.version))) or 0


def migrate(engine: Engine) -> int:
    """Bring the schema to LATEST; returns the version now in place."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        SchemaVersionRow.__table__.create(conn, checkfirst=True)
        version = current_version(conn)
        for number, _description, apply in MIGRATIONS:
            if number <= version:
                continue
            apply(conn)
            conn.execute(insert(SchemaVersionRow).values(version=number,
                                                         applied_at=datetime.now(timezone.utc)))
            version = number
        return version
