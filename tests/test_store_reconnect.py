"""PostgreSQL without pool_pre_ping: a pooled connection the server dropped costs no request.
The hot path's calls (request-key check, member history, writing a new case) are made once more
on a fresh connection; and a new case is written in one statement that still refuses a key on
file (as a case's or as an update's)."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from server.store import CaseStore
from test_store import make_decision, make_order, save


@pytest.fixture
def pg_store(postgres_url):
    s = CaseStore.from_url(postgres_url)
    yield s
    s.dispose()


def _drop_pooled_connection(store: CaseStore, admin_url: str) -> int:
    """Terminate the backend of the pool's one idle connection, as a server restart would."""
    with store.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0] is True
    return pid


def test_the_engine_does_not_ping_on_every_checkout(pg_store):
    assert pg_store.engine.pool._pre_ping is False


def test_a_dropped_connection_is_replaced_for_history_key_checks_and_new_cases(pg_store, postgres_server):
    admin = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    first = save(pg_store, key="pas|urn:trn|reconnect-1")
    assert first.created

    _drop_pooled_connection(pg_store, admin)
    history = pg_store.history_for_member("M1")
    assert [c.order_id for c in history.prior_cases] == [first.order_id]

    _drop_pooled_connection(pg_store, admin)
    assert pg_store.find_case_by_request_key("pas|urn:trn|reconnect-1").order_id == first.order_id

    _drop_pooled_connection(pg_store, admin)
    second = save(pg_store, key="pas|urn:trn|reconnect-2")
    assert second.created and second.order_id != first.order_id
    assert pg_store.counts()["cases"] == 2 and pg_store.counts()["case_events"] == 2


def test_the_one_statement_write_refuses_a_key_on_file_as_a_case_or_as_an_update(pg_store):
    first = save(pg_store, key="pas|urn:trn|one-1")
    calls: list[str] = []
    again = pg_store.save_case(source="pas", request_key="pas|urn:trn|one-1", order=make_order(),
                               decision=make_decision(), raw_request={"resourceType": "Bundle"},
                               render_response=lambda oid: calls.append(oid) or {"id": oid}, key_checked=True)
    assert again.order_id == first.order_id and again.created is False
    pg_store.update_case(first.order_id, request_key="pas|urn:trn|one-update", order=make_order(),
                         decision=make_decision(), raw_request={"resourceType": "Bundle"},
                         render_response=lambda oid: {"id": oid, "revision": 2})
    as_update = pg_store.save_case(source="pas", request_key="pas|urn:trn|one-update", order=make_order(),
                                   decision=make_decision(), raw_request={"resourceType": "Bundle"},
                                   render_response=lambda oid: {"id": oid}, key_checked=True)
    assert as_update.order_id == first.order_id and as_update.created is False
    counts = pg_store.counts()
    assert counts["cases"] == 1 and counts["case_events"] == 2 and counts["audit"] == 2
    row = pg_store.get_case(first.order_id)
    assert row.revision == 2 and pg_store.case_events(first.order_id)[0].kind == "created"
    assert pg_store.audit_trail(first.order_id)[0].action == "case.create"


pytestmark = pytest.mark.integration
