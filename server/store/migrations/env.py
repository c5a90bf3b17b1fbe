"""Alembic environment of the case store (configured in code: see migrations/__init__.py).

At start-up `migrate()` hands over its connection, inside the transaction that holds the
start-up lock (`config.attributes["connection"]`); the developer entry point
(`python -m server.store.migrations`) passes a database URL instead."""
from __future__ import annotations

from alembic import context

from server.store import client_models, review_models  # noqa: F401 - put their tables on Base.metadata
from server.store.db import make_engine
from server.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: run the migrations against a database")

connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.attributes["url"])
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
