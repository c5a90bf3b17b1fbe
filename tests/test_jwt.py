"""CDS Hooks JWT verification: the matrix of tokens a CDS client might send."""
from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timezone

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.app import create_app

BASE = "https://oncopath.example.org"
SIGN = "/cds-services/oncopath-order-sign"
AUD = BASE + SIGN
ISS = "https://sandbox.cds-hooks.org"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)   # the fixtures' treatment starts 2026-12-01
EC_KID, RSA_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f", "rsa-key-1"


@pytest.fixture(scope="module")
def keys():
    return {"ec": ec.generate_private_key(ec.SECP384R1()), "rsa": rsa.generate_private_key(65537, 2048)}


def _jwks(keys) -> dict:
    ec_jwk = jwt.algorithms.ECAlgorithm.to_jwk(keys["ec"].public_key(), as_dict=True)
    rsa_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(keys["rsa"].public_key(), as_dict=True)
    return {"keys": [{**ec_jwk, "kid": EC_KID, "use": "sig", "alg": "ES384"},
                     {**rsa_jwk, "kid": RSA_KID, "use": "sig", "alg": "RS384"}]}


@pytest.fixture
def app(tmp_path, keys):
    jwks_file = tmp_path / "sandbox-jwks.json"
    jwks_file.write_text(json.dumps(_jwks(keys)))
    return _pinned(create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'jwt.db'}",
                               "CDS_JWT_REQUIRED": True, "PUBLIC_BASE_URL": BASE,
                               "CDS_TRUSTED_ISSUERS": {ISS: str(jwks_file)}}))


def _pinned(app):
    """The review's clock (not the JWT's: tokens are checked against the real time)."""
    app.extensions["oncopath.clock"] = lambda: NOW
    return app


@pytest.fixture
def call(app, fixtures_dir):
    body = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    client = app.test_client()

    def post(token: str | None, path: str = SIGN, payload: dict | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.post(path, json=payload or body, headers=headers)
    return post


def claims(**over) -> dict:
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def es384(keys, kid=EC_KID, headers=None, **over) -> str:
    return jwt.encode(claims(**over), keys["ec"], algorithm="ES384", headers={"kid": kid, "typ": "JWT", **(headers or {})})


def rejected(resp, words: str):
    assert resp.status_code == 401, resp.get_json()
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"
    assert words in body["issue"][0]["diagnostics"]


def test_a_valid_es384_token_from_a_trusted_issuer_is_accepted(call, keys):
    resp = call(es384(keys))
    assert resp.status_code == 200
    assert resp.get_json()["cards"][0]["source"]["topic"]["code"] == "guideline"


def accepted(resp) -> None:
    """Accepted means reviewed: the THP request gets its authorized card, not just a 200."""
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["cards"][0]["summary"].startswith("Authorized: Order ID ONC-")


def test_a_valid_rs384_token_is_accepted(call, keys):
    token = jwt.encode(claims(), keys["rsa"], algorithm="RS384", headers={"kid": RSA_KID})
    accepted(call(token))


def test_an_audience_given_as_an_array_holding_the_url_called_is_accepted(call, keys):
    accepted(call(es384(keys, aud=["https://other.example.org", AUD])))


def test_no_token_is_refused(call):
    rejected(call(None), "Bearer JWT is required")


def test_an_expired_token_is_refused(call, keys):
    rejected(call(es384(keys, exp=int(time.time()) - 120, iat=int(time.time()) - 600)), "expired")


def test_a_token_issued_in_the_future_is_refused(call, keys):
    rejected(call(es384(keys, iat=int(time.time()) + 600, exp=int(time.time()) + 900)), "future")


def test_a_token_for_another_url_is_refused(call, keys):
    rejected(call(es384(keys, aud=BASE + "/cds-services/oncopath-order-select")), "aud must be the URL called")


def test_a_token_without_jti_is_refused(call, keys):
    rejected(call(es384(keys, jti=None)), "jti")


def test_alg_none_is_refused(call):
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    token = f"{b64({'alg': 'none', 'kid': EC_KID, 'typ': 'JWT'})}.{b64(claims())}."
    rejected(call(token), "'none' is not allowed")


def test_an_hmac_token_is_refused(call):
    token = jwt.encode(claims(), "shared-secret-shared-secret-shared", algorithm="HS256", headers={"kid": EC_KID})
    rejected(call(token), "'HS256' is not allowed")


def test_a_token_signed_by_a_key_not_in_the_issuers_set_is_refused(call, keys):
    rejected(call(es384(keys, kid="unknown-kid")), "kid is not in the issuer's key set")


def test_a_token_whose_signature_does_not_match_the_kid_is_refused(call):
    stranger = ec.generate_private_key(ec.SECP384R1())
    token = jwt.encode(claims(), stranger, algorithm="ES384", headers={"kid": EC_KID})
    rejected(call(token), "InvalidSignatureError")


def test_a_token_from_an_untrusted_issuer_is_refused(call, keys):
    rejected(call(es384(keys, iss="https://evil.example.com")), "issuer is not trusted")


def test_a_jku_other_than_the_issuers_registered_key_set_is_refused(call, keys):
    rejected(call(es384(keys, headers={"jku": "https://evil.example.com/jwks.json"})), "jku")


def test_a_replayed_jti_is_refused(call, keys):
    token = es384(keys)
    assert call(token).status_code == 200
    rejected(call(token), "jti was already used")


def test_feedback_needs_a_token_too(call, keys):
    feedback = {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T08:00:00Z"}]}
    rejected(call(None, SIGN + "/feedback", feedback), "Bearer")
    token = es384(keys, aud=AUD + "/feedback")
    assert call(token, SIGN + "/feedback", feedback).status_code == 200


def test_discovery_needs_no_token(app):
    resp = app.test_client().get("/cds-services")
    assert resp.status_code == 200
    assert {s["id"] for s in resp.get_json()["services"]} == {"oncopath-order-sign", "oncopath-order-select"}


def test_without_public_base_url_the_audience_is_the_url_the_request_came_to(tmp_path, keys, fixtures_dir):
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(_jwks(keys)))
    app = _pinned(create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
                              "CDS_JWT_REQUIRED": True, "CDS_TRUSTED_ISSUERS": {ISS: str(jwks_file)}}))
    body = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    client = app.test_client()
    ok = client.post(SIGN, json=body, headers={"Authorization": "Bearer " + es384(keys, aud="http://localhost" + SIGN)})
    assert ok.status_code == 200
    rejected(client.post(SIGN, json=body, headers={"Authorization": "Bearer " + es384(keys)}), "aud")


def test_a_jwks_url_is_fetched_once_and_cached(tmp_path, keys, fixtures_dir):
    url = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
    app = _pinned(create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
                              "CDS_JWT_REQUIRED": True, "PUBLIC_BASE_URL": BASE, "CDS_TRUSTED_ISSUERS": {ISS: url}}))
    body = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    client = app.test_client()
    with responses.RequestsMock() as rsps:
        rsps.get(url, json=_jwks(keys))
        for _ in range(2):
            token = es384(keys, headers={"jku": url})
            body["hookInstance"] = str(uuid.uuid4())
            assert client.post(SIGN, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert len(rsps.calls) == 1


def test_with_jwt_off_for_development_calls_need_no_token(tmp_path, fixtures_dir):
    app = _pinned(create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
                              "CDS_JWT_REQUIRED": False}))
    body = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    accepted(app.test_client().post(SIGN, json=body))


def test_an_issuer_pinned_to_a_local_copy_of_its_published_key_set_accepts_its_jku_without_fetching(
        tmp_path, keys, fixtures_dir):
    published = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
    jwks_file = tmp_path / "pinned-jwks.json"
    jwks_file.write_text(json.dumps(_jwks(keys)))
    app = _pinned(create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'pin.db'}",
                              "CDS_JWT_REQUIRED": True, "PUBLIC_BASE_URL": BASE,
                              "CDS_TRUSTED_ISSUERS": {ISS: {"jku": published, "jwks": str(jwks_file)}}}))
    body = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    client = app.test_client()
    with responses.RequestsMock():   # any fetch of the published URL would fail the test
        ok = client.post(SIGN, json=body, headers={"Authorization": "Bearer " + es384(keys, headers={"jku": published})})
        assert ok.status_code == 200, ok.get_json()
        other = client.post(SIGN, json=body, headers={
            "Authorization": "Bearer " + es384(keys, headers={"jku": "https://evil.example.com/jwks.json"})})
    rejected(other, "jku")

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
