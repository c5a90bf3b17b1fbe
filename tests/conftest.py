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


# The organisations (NPIs) of the fixtures and tests: the suite's registered B2B client acts
# for them (SMART Backend Services), so FHIR-door tests call with a real access token.
TEST_ORGANIZATIONS = ("1234567893", "1942788757", "1245319599", "1222837003", "1679576722", "1999999984", "9999999999",
                      # the official PAS 2.2.1 examples' providers
                      "8189991234", "9988776651", "1122334455", "2345123675", "5566778895", "1265710008", "789312")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Paths the suite's test client calls with the registered client's token unless the test
# gives its own Authorization header.
TOKEN_PATHS = ("/fhir/Claim/", "/fhir/Subscription")


def _make_client_key():
    """One ES384 key pair for the suite's B2B clients: (private PEM, public JWK)."""
    import sys

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sys.path.insert(0, str(REPO / "scripts"))
    from client_assertion import public_jwk

    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, public_jwk(key, "ES384")


CLIENT_KEY = _make_client_key()


@pytest.fixture(scope="session")
def client_key():
    return CLIENT_KEY


def register_client(app, jwk: dict, organizations=TEST_ORGANIZATIONS, scopes=None, name="test gateway",
                    audit: bool = False) -> str:
    """Register a B2B client (as `oncopath client register` does, without its audit row, so
    that tests counting rows see only what the call under test wrote); returns its id."""
    registry = app.extensions["oncopath.clients"]
    return registry.register(name=name, organizations=list(organizations), jwks={"keys": [jwk]},
                             scopes=scopes, audit=audit).client_id


def client_assertion(pem: bytes, client_id: str, token_url: str = "http://localhost/oauth/token", **kw) -> str:
    from client_assertion import assertion

    return assertion(pem, client_id=client_id, token_url=token_url, **kw)


def _token_url(app) -> str:
    """The token endpoint's URL as the app names it (its `aud`): PUBLIC_BASE_URL when set."""
    base = app.config.get("PUBLIC_BASE_URL")
    return f"{base.rstrip('/')}/oauth/token" if base else "http://localhost/oauth/token"


def client_token(app, pem: bytes, client_id: str, scope: str | None = None) -> str:
    """An access token from POST /oauth/token with a freshly signed client assertion."""
    from flask.testing import FlaskClient

    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(pem, client_id, token_url=_token_url(app))}
    if scope:
        form["scope"] = scope
    resp = FlaskClient(app).post("/oauth/token", data=form)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]


def _token_client_class(pem: bytes, jwk: dict):
    from flask.testing import FlaskClient

    class TokenClient(FlaskClient):
        """Calls the FHIR door with the suite's registered client's token (made on first use)."""

        def open(self, *args, **kwargs):
            path = args[0] if args and isinstance(args[0], str) else kwargs.get("path")
            headers = dict(kwargs.get("headers") or {})
            if isinstance(path, str) and path.startswith(TOKEN_PATHS) and "Authorization" not in headers \
                    and self.application.config.get("FHIR_AUTH_REQUIRED"):
                ext = self.application.extensions
                if "tests.token" not in ext:
                    ext["tests.token"] = client_token(self.application, pem,
                                                      register_client(self.application, jwk))
                headers["Authorization"] = f"Bearer {ext['tests.token']}"
                kwargs["headers"] = headers
            return super().open(*args, **kwargs)

    return TokenClient


# Every app's test client in the suite (also apps a test makes itself) calls the FHIR door as
# the registered test client, unless the test sends its own Authorization header or the app's
# door is open (FHIR_AUTH_REQUIRED False). tests/security calls without tokens on purpose,
# with a plain FlaskClient.
from flask import Flask  # noqa: E402

Flask.test_client_class = _token_client_class(*CLIENT_KEY)


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


# -- the three tiers ------------------------------------------------------------------------------
# Every test module names its tier with `pytestmark` (at its end):
#   unit         pure code on fakes (engine, mappings, cards, the case service on tests/fakes.py);
#   integration  a real database (SQLite file or PostgreSQL), no HTTP;
#   e2e          the app through HTTP (Flask test client, gunicorn, a browser).
# `pytest -m unit` is the fast loop; `make test` runs all three. A module without a tier is an error.
TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config, items):
    missing = sorted({str(item.path) for item in items
                      if sum(1 for t in TIERS if item.get_closest_marker(t)) != 1})
    if missing:
        raise pytest.UsageError("test modules without exactly one tier marker (unit, integration, e2e): "
                                + ", ".join(missing))
