"""CORS for browser CDS clients such as the CDS Hooks Sandbox: `*` without credentials on the
CDS Hooks and FHIR APIs (they authenticate by bearer token, never by cookie), nothing on the
portal and reviewer routes."""
from __future__ import annotations

import json

import pytest

from server.app import create_app

ORIGIN = "https://sandbox.cds-hooks.org"


@pytest.fixture
def client(tmp_path):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'cors.db'}",
                       "CDS_JWT_REQUIRED": True}).test_client()


@pytest.mark.parametrize("path", ["/cds-services", "/cds-services/oncopath-order-sign",
                                  "/cds-services/oncopath-order-sign/feedback", "/fhir/Claim/$submit",
                                  "/fhir/Subscription", "/oauth/token"])
def test_a_preflight_is_answered_on_the_api_paths_without_a_token(client, path):
    resp = client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization,content-type"})
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS, DELETE"
    assert resp.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_a_post_answer_carries_the_cors_headers_even_when_it_is_an_error(client, fixtures_dir):
    body = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    resp = client.post("/cds-services/oncopath-order-sign", json=body, headers={"Origin": ORIGIN})
    assert resp.status_code == 401   # no JWT: the browser must still be able to read why
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "WWW-Authenticate" in resp.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("origin", [ORIGIN, "null", "https://evil.example"])
def test_no_origin_is_echoed_and_credentials_are_never_allowed(client, origin):
    resp = client.get("/cds-services", headers={"Origin": origin})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers


@pytest.mark.parametrize("path", ["/portal/", "/portal/login", "/review/api/queue"])
def test_the_portal_and_the_reviewer_api_get_no_cors_headers(client, path):
    resp = client.get(path, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Access-Control-Allow-Credentials" not in resp.headers

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
