"""R8 without leaks: a duplicate of another provider's order is named only as "a similar
request is on file with another provider"; the reviewer still sees which one."""
from __future__ import annotations

from .conftest import ATTACKER_NPI, SUBMIT, submission_as


def test_a_duplicate_of_another_providers_order_does_not_reveal_its_order_id(app, attacker, victim_case):
    resp = attacker.post(SUBMIT, submission_as(ATTACKER_NPI, "attacker-claim-1"))
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "a similar request is on file with another provider" in text
    assert victim_case not in text
    own = resp.get_json()["entry"][0]["resource"]["id"]
    record = app.extensions["oncopath.store"].get_case(own)
    assert record.status == "In Progress"
    assert record.decision_obj().duplicate_of == victim_case          # for the reviewer
    assert any(victim_case in step.text for step in record.decision_obj().trace if step.rule == "R8")


def test_a_duplicate_of_the_same_providers_order_still_names_it(victim, victim_case):
    from .conftest import VICTIM_NPI

    resp = victim.post(SUBMIT, submission_as(VICTIM_NPI, "victim-claim-2"))
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"Duplicate Order: similar request on file (Order ID {victim_case})" in text
    assert "with another provider" not in text


def test_the_cds_duplicate_card_names_another_providers_order_only_as_such(tmp_path):
    import copy
    import json
    from pathlib import Path

    from server.app import create_app

    from datetime import datetime, timezone

    app = create_app({"TESTING": True, "CDS_JWT_REQUIRED": False, "DATABASE_URL": f"sqlite:///{tmp_path / 'dup.db'}"})
    # the fixture's treatment starts 2026-12-01: a fixed clock keeps it a timely request (R9)
    app.extensions["oncopath.clock"] = lambda: datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc)
    client = app.test_client()
    first = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "hooks"
                        / "order-sign-thp-her2-positive.json").read_text())
    body = client.post("/cds-services/oncopath-order-sign", json=first).get_json()
    theirs = next(e["extension"] for a in body["systemActions"] for e in [a["resource"]])
    order_id = next(sub["valueString"] for e in theirs if e["url"].endswith("ext-coverage-information")
                    for sub in e["extension"] if sub["url"] == "satisfied-pa-id")
    second = copy.deepcopy(first)
    second["hookInstance"] = "another-practice-signs-the-same-regimen"
    second["prefetch"]["practitioner"]["identifier"][0]["value"] = "1679576722"
    for entry in second["context"]["draftOrders"]["entry"]:
        entry["resource"]["id"] += "-other"
    answer = client.post("/cds-services/oncopath-order-sign", json=second)
    text = answer.get_data(as_text=True)
    dup = next(c for c in answer.get_json()["cards"] if c["source"]["topic"]["code"] == "duplicate-therapy")
    assert "with another provider" in dup["summary"] + dup["detail"]
    assert order_id not in text

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
