"""The gateway flow of scripts/sandbox_gateway_flow.py against the real server in sandbox mode:
`oncopath serve` under gunicorn (ONCOPATH_SANDBOX=1, two workers, a temporary SQLite file, a free
loopback port), the script in its own process, every step checked."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from reliability.service import GunicornService, free_port

REPO = Path(__file__).resolve().parents[1]
STEPS = ["catalogue", "pick an A4 fixture", "token", "subscribe", "submit", "decide as the demo reviewer",
         "notification received", "inquire"]


@pytest.fixture
def sandbox(tmp_path):
    port = free_port()
    service = GunicornService(f"sqlite:///{tmp_path / 'sandbox.db'}", tmp_path / "gunicorn.log", workers=2, port=port,
                              env={"ONCOPATH_SANDBOX": "1", "ONCOPATH_FHIR_AUTH_REQUIRED": "1",
                                   "ONCOPATH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
    service.start()
    try:
        yield service
    finally:
        service.stop()


def run_flow(base: str, *extra: str) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "sandbox_gateway_flow.py"), "--base", base, "--json",
                          "--timeout", "30", *extra], capture_output=True, text=True, timeout=240, cwd=REPO)
    return {"rc": out.returncode, **json.loads(out.stdout)}


def test_the_gateway_flow_runs_end_to_end_against_a_sandbox_under_gunicorn(sandbox):
    log = sandbox.log_path.read_text()
    assert "SANDBOX MODE" in log and "oncopath-sandbox-client" in log
    # the FHIR door is closed as in production: no token, no submission
    assert requests.post(f"{sandbox.base}/fhir/Claim/$submit", json={}, timeout=10).status_code == 401

    result = run_flow(sandbox.base)
    assert result["rc"] == 0 and result["ok"], result
    steps = {s["step"]: s for s in result["steps"]}
    assert list(steps) == STEPS and all(s["ok"] for s in steps.values())
    assert "system/Claim.c" in steps["token"]["scope"]
    assert steps["subscribe"]["endpoint"].startswith("http://127.0.0.1:")
    submitted = steps["submit"]["actions"]
    assert "A4" in submitted.values()
    assert steps["decide as the demo reviewer"]["caseStatus"] == "Authorized"
    approved = {k: ("A1" if v == "A4" else v) for k, v in submitted.items()}
    assert steps["notification received"]["actions"] == approved
    assert steps["inquire"]["actions"] == approved

    # a second run (a tester's suite runs again) is a new request, not the first one's answer
    again = run_flow(sandbox.base)
    assert again["ok"], again
    assert again["steps"][4]["orderId"] != steps["submit"]["orderId"]


def test_the_flow_script_talks_to_loopback_only():
    result = run_flow("http://192.0.2.10:8080")
    assert result["rc"] == 1 and not result["ok"] and "not a loopback address" in result["failed"]


# Test tier (unit | integration | e2e: see tests/conftest.py).
pytestmark = pytest.mark.e2e
