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


# The large JSON values of a case: the request, the response, the order and the decision.
_CASE_JSON_COLUMNS = (("cases", "raw_request"), ("cases", "response"), ("cases", "order"),
                      ("cases", "decision"), ("case_events", "raw_request"), ("case_events", "response"))


def _m003_lz4_case_json(conn: Connection) -> None:
    """PostgreSQL 14+ built with lz4: compress new case JSON with lz4 instead of pglz.

    Each new case writes ~60 KB of JSON that PostgreSQL compresses (TOAST) on the database's
    CPU, which shares the machine with the app: lz4 costs less for the same size (measured:
    1.9 -> 1.3-1.7 ms per insert of a case's three large values). Existing values
    keep their compression; reading is unchanged. Elsewhere (SQLite, an older server or one
    without lz4) this does nothing."""
    if conn.dialect.name != "postgresql" or (conn.dialect.server_version_info or (0,)) < (14,):
        return
    try:
        with conn.begin_nested():
            for table, column in _CASE_JSON_COLUMNS:
                conn.execute(text(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET COMPRESSION lz4'))
    except Exception:   # noqa: BLE001 - "compression method lz4 not supported": keep pglz
        return


def _m004_clients_and_security(conn: Connection) -> None:
    from server.store import client_models

    Base.metadata.create_all(conn, tables=client_models.TABLES, checkfirst=True)


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "cases, case_events, audit, feedback", _m001_initial),
    (2, "reviewers, tokens, review actions, subscriptions, notifications, deliveries",
     _m002_review_and_notifications),
    (3, "lz4 compression for case JSON (PostgreSQL 14+)", _m003_lz4_case_json),
    (4, "B2B clients, their tokens, used jtis, subscription owners, portal sessions",
     _m004_clients_and_security),
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
