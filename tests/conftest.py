"""Shared fixtures: the app on a fresh SQLite file, its client, the official examples, and a
PostgreSQL database (a fresh schema per test, dropped afterwards).

PostgreSQL: `ONCOPATH_TEST_POSTGRES_URL` (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
Unreachable ⇒ the PostgreSQL tests are skipped, unless ONCOPATH_REQUIRE_POSTGRES=1 (CI), which
makes them fail instead.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO.parent / "shared" / "examples"
PG_URL = os.environ.get("ONCOPATH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return REPO / "fixtures"


@pytest.fixture
def app(tmp_path):
    from server.app import create_app

    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'oncopath.db'}"})


@pytest.fixture
def client(app):
    return app.test_client()


def _postgres_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means: no PostgreSQL here
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    problem = _postgres_unavailable()
    if problem:
        message = f"PostgreSQL at {PG_URL} is unreachable ({problem})"
        if os.environ.get("ONCOPATH_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " and ONCOPATH_REQUIRE_POSTGRES=1")
        pytest.skip(message + "; set ONCOPATH_REQUIRE_POSTGRES=1 to make this a failure")
    return PG_URL


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A database URL whose search_path is a fresh, empty schema (dropped after the test)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Run a test on SQLite (a file) and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")
