"""Crash durability under gunicorn: SIGKILL (master and workers) in the middle of a Claim/$submit
load, restart, and every 200 is still true — on a SQLite file and on PostgreSQL (a database of
its own, created and dropped here). Bounded: one round each, about 10 s per database.

`python -m reliability.crash --rounds N` runs it longer."""
from __future__ import annotations

import uuid

import pytest

from reliability.crash import crash_round

def _check(result):
    assert result.errors == [], result.errors
    assert result.acknowledged >= 10, f"the load did not get going: {result.line()}"
    assert result.lost == [], f"acknowledged submissions lost or changed by the crash: {result.lost}"
    assert result.duplicated == [], f"resubmissions after the crash created second cases: {result.duplicated}"


def test_every_acknowledged_submission_survives_a_sigkill_of_gunicorn_on_a_sqlite_file(tmp_path):
    result = crash_round(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path, clients=4, kill_after_acks=15)
    _check(result)
    assert result.sent == result.acknowledged + result.unacknowledged


@pytest.fixture
def crash_database(postgres_server):
    """A fresh database `oncopath_crash_<random>` on the test server, dropped afterwards."""
    import psycopg

    name = f"oncopath_crash_{uuid.uuid4().hex[:8]}"
    admin = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_acknowledged_submission_survives_a_sigkill_of_gunicorn_on_postgresql(crash_database, tmp_path):
    result = crash_round(crash_database, tmp_path, clients=4, kill_after_acks=15)
    _check(result)

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
