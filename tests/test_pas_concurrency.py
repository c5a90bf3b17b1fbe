"""Two app processes on one PostgreSQL database receive the same Claim at the same moment."""
from __future__ import annotations

import json
from racing import race_two

from test_pas_submit import FIXTURES, pin_clock


def _post_claim(url: str, barrier, results) -> None:
    from server.app import create_app

    app = pin_clock(create_app({"TESTING": True, "DATABASE_URL": url}))
    body = (FIXTURES / "thp-her2-positive.json").read_text()
    client = app.test_client()
    barrier.wait(timeout=30)
    resp = client.post("/fhir/Claim/$submit", data=body, content_type="application/fhir+json")
    results.put((resp.status_code, json.dumps(resp.get_json())))
    app.extensions["oncopath.store"].dispose()


def test_two_processes_submitting_the_same_claim_on_postgresql_make_one_case(postgres_url):
    from server.store import CaseStore

    CaseStore.from_url(postgres_url).dispose()
    answers = race_two(_post_claim, postgres_url, timeout=90)
    assert [status for status, _ in answers] == [200, 200]
    bodies = [json.loads(b) for _, b in answers]
    order_ids = {b["entry"][0]["resource"]["id"] for b in bodies}
    assert len(order_ids) == 1 and next(iter(order_ids)).startswith("ONC-")
    assert bodies[0] == bodies[1]
    store = CaseStore.from_url(postgres_url)
    assert store.counts()["cases"] == 1
    store.dispose()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
