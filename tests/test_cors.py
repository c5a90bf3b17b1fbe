"""CORS for browser CDS clients such as the CDS Hooks Sandbox."""
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
                                  "/no/such/path"])
def test_a_preflight_is_answered_on_any_path_without_a_token(client, path):
    resp = client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization,content-type"})
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS, DELETE"
    assert resp.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "Origin" in resp.headers["Vary"]


def test_a_post_answer_carries_the_cors_headers_even_when_it_is_an_error(client, fixtures_dir):
    body = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    resp = client.post("/cds-services/oncopath-order-sign", json=body, headers={"Origin": ORIGIN})
    assert resp.status_code == 401   # no JWT: the browser must still be able to read why
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Content-Location" in resp.headers["Access-Control-Expose-Headers"]


def test_a_request_without_origin_gets_the_wildcard(client):
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers
