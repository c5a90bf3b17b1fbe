"""The deadline sweep (server/review/deadlines.py) outside HTTP: several processes sweeping at
once record one escalation, the notification worker's tick runs it, and `oncopath
sweep-overdue` runs it once. (The reviewer-facing story is in test_review_api.py.)"""
from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta, timezone

import pytest

from racing import race_two
from server.cli import main
from server.domain.decision import CaseStatus
from server.notify.delivery import NotificationWorker
from server.review.deadlines import sweep_overdue
from server.store import CaseStore
from server.store.review import ReviewStore
from test_store import make_decision, make_order

DUE = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)


def pend(store: CaseStore, key: str, due_by: datetime = DUE) -> str:
    decision = dataclasses.replace(make_decision(status=CaseStatus.IN_PROGRESS), due_by=due_by)
    return store.save_case(source="pas", request_key=key, order=make_order(request_id=key), decision=decision,
                           raw_request={}, render_response=lambda oid: {"id": oid}).order_id


def _sweep_at_once(url: str, barrier, results) -> None:
    store = CaseStore.from_url(url)
    reviews = ReviewStore(store)
    barrier.wait(timeout=30)
    results.put(sweep_overdue(reviews, DUE + timedelta(hours=1)))
    store.dispose()


def test_two_processes_sweeping_at_once_escalate_each_overdue_case_once(database_url):
    store = CaseStore.from_url(database_url)
    late, early = pend(store, "k-late"), pend(store, "k-early", due_by=DUE - timedelta(days=1))
    pend(store, "k-not-due", due_by=DUE + timedelta(days=1))
    outcomes = race_two(_sweep_at_once, database_url)
    assert sorted(sum(outcomes, [])) == sorted([late, early])         # each escalated by one of them
    reviews = ReviewStore(store)
    for order_id in (late, early):
        assert [a.action for a in reviews.review_actions(order_id)] == ["escalate"]
        assert [a.action for a in store.audit_trail(order_id)].count("review.escalate") == 1
        assert store.get_case(order_id).status == "In Progress"       # the clock never denies
    assert reviews.overdue_cases(DUE + timedelta(hours=1)) == [(early, DUE - timedelta(days=1)), (late, DUE)]
    store.dispose()


def test_the_notification_worker_tick_runs_the_sweep_at_most_once_a_minute():
    calls, clock = [], [DUE]
    ticked = threading.Event()

    class Outbox:
        def claim_due_notifications(self, now, **_kw):
            ticked.set()
            return []

    def sweep(now):
        calls.append(now)

    worker = NotificationWorker(Outbox(), interval=0.01, clock=lambda: clock[0], sweep=sweep, sweep_interval=60)
    worker.start()
    for minutes in (0.5, 1, 1.5):
        ticked.clear()
        assert ticked.wait(5)
        ticked.clear()
        assert ticked.wait(5)                  # at least one more tick at this time
        clock[0] = DUE + timedelta(minutes=minutes)
    ticked.clear()
    assert ticked.wait(5)
    worker.stop()
    assert calls == [DUE, DUE + timedelta(minutes=1)]           # not at +0.5 nor at +1.5 min


def test_the_sweep_command_escalates_the_overdue_cases_and_names_them(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    store = CaseStore.from_url(url)
    order_id = pend(store, "k-cli", due_by=datetime.now(timezone.utc) - timedelta(hours=1))
    pend(store, "k-cli-later", due_by=datetime.now(timezone.utc) + timedelta(days=1))
    assert main(["sweep-overdue", "--database-url", url]) == 0
    assert capsys.readouterr().out.strip() == f"1 overdue case(s) escalated to a physician reviewer: {order_id}"
    assert main(["sweep-overdue", "--database-url", url]) == 0
    assert capsys.readouterr().out.strip() == "0 overdue case(s) escalated to a physician reviewer"
    assert [a.action for a in ReviewStore(store).review_actions(order_id)] == ["escalate"]
    store.dispose()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.integration
