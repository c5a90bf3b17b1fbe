"""Engine creation: one place that knows SQLite and PostgreSQL quirks."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from server import jsontext

SQLITE_BUSY_TIMEOUT_MS = 5000
# Execution option of read-only sessions (CaseStore.uow(read_only=True)).
READ_ONLY = "oncopath_read_only"


class EncodedJSON(str):
    """JSON text that is already encoded: stored as is, not encoded again (a JSON column given
    one of these skips json.dumps): the request body exactly as received. Reading the column
    gives parsed JSON back, as for any other value."""


def encode_json(value) -> str:
    """The engines' JSON serializer (orjson: compact UTF-8 text, server/jsontext.py)."""
    return value if isinstance(value, EncodedJSON) else jsontext.dumps_text(value)


def decode_json(text):
    """The engines' JSON deserializer (orjson, the standard library for what it refuses)."""
    return jsontext.loads(text)


def normalize_url(url: str) -> str:
    """`postgresql://` / `postgres://` use psycopg 3 (the driver we ship), not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pool_pre_ping (a round trip on every checkout, three per request): a connection
        # the server dropped fails its first statement, the pool is invalidated and the hot-path
        # calls are made once more (store.service.once_more_if_disconnected). pool_recycle
        # retires connections before a typical idle timeout of a proxy or firewall.
        return create_engine(url, pool_pre_ping=False, pool_recycle=1800, future=True,
                             json_serializer=encode_json, json_deserializer=decode_json)

    database = parsed.database
    in_memory = not database or database == ":memory:"
    if in_memory:
        # One shared connection: every session (and request thread) sees the same database.
        engine = create_engine(url, poolclass=StaticPool, json_serializer=encode_json, json_deserializer=decode_json,
                               connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=encode_json, json_deserializer=decode_json,
                               connect_args={"check_same_thread": False,
                                             "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        # Let SQLAlchemy issue BEGIN itself so that a transaction really is one (pysqlite quirk).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            _wal(cur)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        # IMMEDIATE: take the write lock up front, so two writers queue instead of deadlocking.
        # A read-only unit of work reads a WAL snapshot instead: it never waits for a writer's commit.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _wal(cur) -> None:
    """Switch a file database to WAL. Two processes opening a new file at the same instant (two
    workers starting) can find it locked: SQLite does not call the busy handler for a journal
    mode change, so it is retried here for up to the busy timeout."""
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
