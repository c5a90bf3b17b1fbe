"""Idempotency when two app processes receive the same request at the same time, and
durability across restarts."""
from __future__ import annotations

from racing import race_two
import time

import pytest

from server.store import CaseStore
from test_store import make_decision, make_order

KEY = "pas|urn:trnorg:1234567893|race-1"


def _submit_same_request(url: str, barrier, results) -> None:
    store = CaseStore.from_url(url)

    def slow_render(order_id: str) -> dict:
        time.sleep(0.3)   # widen the window: both processes are past the "already on file?" check
        return {"id": order_id}

    barrier.wait(timeout=30)
    record = store.save_case(source="pas", request_key=KEY, order=make_order(), decision=make_decision(),
                             raw_request={}, render_response=slow_render)
    results.put((record.order_id, record.created, record.response["id"]))
    store.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_processes_submitting_the_same_claim_get_one_case_and_the_same_order_id(backend, request, tmp_path):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'race.db'}"
    CaseStore.from_url(url).dispose()   # schema first, so both racers start from the same state
    outcomes = race_two(_submit_same_request, url)
    order_ids = {o[0] for o in outcomes}
    assert len(order_ids) == 1
    assert sorted(o[1] for o in outcomes) == [False, True]          # one wrote it, one found it
    assert {o[2] for o in outcomes} == order_ids                    # both answer with that response
    store = CaseStore.from_url(url)
    assert store.counts()["cases"] == 1
    assert store.counts()["case_events"] == 1
    store.dispose()


def test_a_case_written_by_one_app_is_read_back_by_a_fresh_app_on_the_same_sqlite_file(tmp_path):
    from server.app import create_app

    url = f"sqlite:///{tmp_path / 'durable.db'}"
    first = create_app({"TESTING": True, "DATABASE_URL": url})
    store = first.extensions["oncopath.store"]
    record = store.save_case(source="pas", request_key=KEY, order=make_order(), decision=make_decision(),
                             raw_request={"resourceType": "Bundle"}, render_response=lambda oid: {"id": oid})
    store.dispose()

    second = create_app({"TESTING": True, "DATABASE_URL": url})
    again = second.extensions["oncopath.store"].get_case(record.order_id)
    assert again is not None
    assert again.status == "Authorized"
    assert again.response == {"id": record.order_id}
    assert again.decision_obj() == make_decision()
    assert second.extensions["oncopath.store"].find_case_by_request_key(KEY).order_id == record.order_id

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.integration
