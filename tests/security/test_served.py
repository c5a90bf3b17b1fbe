"""The production defaults, served by gunicorn as `oncopath serve` runs it: the FHIR door is
closed, and gunicorn's own refusals are OperationOutcomes."""
from __future__ import annotations

import json
import socket

import pytest
import requests

from reliability.harness import load_fixture
from reliability.service import GunicornService


@pytest.fixture
def served(tmp_path):
    service = GunicornService(f"sqlite:///{tmp_path / 'served.db'}", tmp_path / "gunicorn.log", workers=1)
    service.env.update({"ONCOPATH_FHIR_AUTH_REQUIRED": "1", "ONCOPATH_PUBLIC_BASE_URL": service.base})
    service.start()
    yield service
    service.stop()


def test_the_served_fhir_door_is_closed_and_gunicorns_errors_are_operation_outcomes(served):
    resp = requests.post(f"{served.base}/fhir/Claim/$submit", data=json.dumps(load_fixture("pas/thp-her2-positive.json")),
                         headers={"Content-Type": "application/fhir+json"}, timeout=10)
    assert resp.status_code == 401 and resp.json()["issue"][0]["code"] == "login"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split()[1] in (b"400", b"431")
    assert b"Content-Type: application/fhir+json" in head
    assert json.loads(body)["resourceType"] == "OperationOutcome"

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
