"""POST /oauth/token: the SMART Backend Services client-assertion matrix."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient

from conftest import ASSERTION_TYPE, CLIENT_KEY, client_assertion, register_client

from .conftest import VICTIM_NPI

TOKEN_URL = "http://localhost/oauth/token"


@pytest.fixture
def registered(app):
    return register_client(app, CLIENT_KEY[1], organizations=[VICTIM_NPI])


def ask(app, assertion: str, **form):
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, **form}
    return FlaskClient(app).post("/oauth/token", data=data)


def signed(claims: dict, *, key=None, alg="ES384", headers=None) -> str:
    key = key or serialization.load_pem_private_key(CLIENT_KEY[0], password=None)
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": CLIENT_KEY[1]["kid"], **(headers or {})})


def claims(client_id: str, **over) -> dict:
    now = int(time.time())
    return {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "jti": uuid.uuid4().hex, "iat": now,
            "exp": now + 240, **over}


def test_a_signed_assertion_gets_a_short_lived_bearer_token_with_system_scopes(app, registered):
    resp = ask(app, client_assertion(CLIENT_KEY[0], registered))
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert set(body["scope"].split()) == {"system/Claim.c", "system/ClaimResponse.rs", "system/Subscription.crd"}
    assert resp.headers["Cache-Control"] == "no-store"


def test_the_smart_configuration_names_the_token_endpoint_and_the_algorithms(app):
    body = FlaskClient(app).get("/.well-known/smart-configuration").get_json()
    assert body["token_endpoint"] == TOKEN_URL
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]


def test_a_replayed_assertion_is_refused(app, registered):
    assertion = client_assertion(CLIENT_KEY[0], registered)
    assert ask(app, assertion).status_code == 200
    again = ask(app, assertion)
    assert again.status_code in (400, 401) and again.get_json()["error"] == "invalid_client"


def test_a_replay_is_refused_by_another_worker_and_after_a_restart(tmp_path, registered, app):
    from .conftest import make_closed_app

    assertion = client_assertion(CLIENT_KEY[0], registered)
    assert ask(app, assertion).status_code == 200
    other_worker = make_closed_app(tmp_path)          # same database, another process's app
    assert ask(other_worker, assertion).get_json()["error"] == "invalid_client"


REFUSED = {
    "expired": lambda cid: claims(cid, exp=int(time.time()) - 120),
    "exp ten years ahead": lambda cid: claims(cid, exp=int(time.time()) + 10 * 365 * 86400),
    "exp ten minutes ahead": lambda cid: claims(cid, exp=int(time.time()) + 600),
    "aud another URL": lambda cid: claims(cid, aud="https://evil.example/oauth/token"),
    "iss not sub": lambda cid: claims(cid, iss="someone-else"),
    "no jti": lambda cid: {k: v for k, v in claims(cid).items() if k != "jti"},
    "unknown client": lambda cid: claims("no-such-client"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_bad_assertion_is_an_invalid_client_error(app, registered, case):
    resp = ask(app, signed(REFUSED[case](registered)))
    assert resp.status_code in (400, 401)
    assert resp.get_json()["error"] == "invalid_client", resp.get_json()


def test_an_assertion_signed_with_another_key_is_refused(app, registered):
    other = ec.generate_private_key(ec.SECP384R1())
    assert ask(app, signed(claims(registered), key=other)).get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("alg", ["HS256", "ES256", "none"])
def test_only_rs384_and_es384_are_accepted(app, registered, alg):
    if alg == "HS256":
        token = jwt.encode(claims(registered), "a-shared-secret-of-enough-length!", algorithm="HS256",
                           headers={"kid": CLIENT_KEY[1]["kid"]})
    elif alg == "none":
        token = jwt.encode(claims(registered), None, algorithm="none", headers={"kid": CLIENT_KEY[1]["kid"]})
    else:
        token = signed(claims(registered), key=ec.generate_private_key(ec.SECP256R1()), alg="ES256")
    body = ask(app, token).get_json()
    assert body["error"] == "invalid_client"


def test_a_scope_the_client_is_not_registered_for_is_refused(app):
    cid = register_client(app, CLIENT_KEY[1], organizations=[VICTIM_NPI], scopes=["system/ClaimResponse.rs"])
    assert ask(app, client_assertion(CLIENT_KEY[0], cid), scope="system/Claim.c").get_json()["error"] == "invalid_scope"
    granted = ask(app, client_assertion(CLIENT_KEY[0], cid), scope="system/ClaimResponse.rs").get_json()
    assert granted["scope"] == "system/ClaimResponse.rs"


def test_a_revoked_client_gets_no_token(app, registered):
    app.extensions["oncopath.clients"].revoke(registered)
    assert ask(app, client_assertion(CLIENT_KEY[0], registered)).get_json()["error"] == "invalid_client"


def test_a_client_credentials_grant_without_an_assertion_is_refused(app, registered):
    resp = FlaskClient(app).post("/oauth/token", data={"grant_type": "client_credentials", "client_id": registered})
    assert resp.status_code in (400, 401) and resp.get_json()["error"] == "invalid_client"


def test_token_requests_are_throttled_per_address(tmp_path):
    from .conftest import make_closed_app

    app = make_closed_app(tmp_path, TOKEN_LIMIT_PER_ADDRESS="5/minute")
    statuses = [FlaskClient(app).post("/oauth/token", data={"grant_type": "client_credentials"}).status_code
                for _ in range(7)]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]


def test_registering_a_private_key_is_refused(app):
    with pytest.raises(ValueError, match="private key"):
        app.extensions["oncopath.clients"].register(name="x", organizations=[VICTIM_NPI],
                                                    jwks={"keys": [{**CLIENT_KEY[1], "d": "secret"}]})

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
