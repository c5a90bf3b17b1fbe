"""CDS Hooks JWTs: replays refused by every worker (the database), a maximum lifetime, `aud`
from PUBLIC_BASE_URL only, and the Bearer scheme in any case."""
from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient

from reliability.harness import CLOCK, load_fixture

from .conftest import outcome

BASE = "https://oncopath.example.org"
SIGN = "/cds-services/oncopath-order-sign"
ISS = "https://ehr.example.org"


@pytest.fixture(scope="module")
def key():
    return ec.generate_private_key(ec.SECP384R1())


def jwt_app(tmp_path, key, **config):
    from server.app import create_app

    jwk = {**jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'jwt.db'}", "CDS_JWT_REQUIRED": True,
                      "PUBLIC_BASE_URL": BASE, "CDS_TRUSTED_ISSUERS": {ISS: str(tmp_path / "jwks.json")}, **config})
    app.extensions["oncopath.clock"] = lambda: CLOCK
    return app


def token(key, *, aud=BASE + SIGN, lifetime=120, jti=None) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISS, "aud": aud, "iat": now, "exp": now + lifetime, "jti": jti or uuid.uuid4().hex},
                      key, algorithm="ES384", headers={"kid": "k1"})


def call(app, authorization, headers=None):
    body = load_fixture("hooks/order-sign-thp-her2-positive.json")
    return FlaskClient(app).post(SIGN, json=body, headers={"Authorization": authorization, **(headers or {})})


def test_a_replayed_jwt_is_refused_by_another_worker_and_after_a_restart(tmp_path, key):
    first_worker = jwt_app(tmp_path, key)
    good = token(key)
    assert call(first_worker, f"Bearer {good}").status_code == 200
    second_worker = jwt_app(tmp_path, key)        # another process on the same database
    assert "already used" in outcome(call(second_worker, f"Bearer {good}"), 401)["diagnostics"]
    first_worker.extensions["oncopath.store"].dispose()
    restarted = jwt_app(tmp_path, key)
    assert "already used" in outcome(call(restarted, f"Bearer {good}"), 401)["diagnostics"]


@pytest.mark.parametrize("lifetime", [10 * 365 * 86400, 3600, 600])
def test_a_jwt_living_longer_than_the_maximum_is_refused(tmp_path, key, lifetime):
    issue = outcome(call(jwt_app(tmp_path, key), f"Bearer {token(key, lifetime=lifetime)}"), 401)
    assert "CDS_JWT_MAX_LIFETIME" in issue["diagnostics"]


def test_the_bearer_scheme_is_accepted_in_lower_case(tmp_path, key):
    resp = call(jwt_app(tmp_path, key), f"bearer {token(key)}")
    assert resp.status_code == 200 and resp.get_json()["cards"]


def test_the_audience_comes_from_public_base_url_never_from_the_host_header(tmp_path, key):
    app = jwt_app(tmp_path, key)
    forged = token(key, aud="http://evil.example" + SIGN)
    issue = outcome(call(app, f"Bearer {forged}", headers={"Host": "evil.example"}), 401)
    assert BASE + SIGN in issue["diagnostics"]


def test_without_public_base_url_a_jwt_verifying_service_does_not_start(tmp_path):
    from server.app import create_app

    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "CDS_JWT_REQUIRED": True,
                    "FHIR_AUTH_REQUIRED": False})

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
