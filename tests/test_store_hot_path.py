"""A new order-sign's member history and its request-key check come from one statement; it says
exactly what history_for_member and find_case_by_request_key say (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest

from server.store import CaseStore
from test_store import make_decision, make_order, save


@pytest.fixture
def store(database_url):
    s = CaseStore.from_url(database_url)
    yield s
    s.dispose()


def test_history_and_key_agree_with_the_two_separate_reads(store):
    first = save(store, key="pas|urn:trn|hot-1", order=make_order(member="M-hot", request_id="r1"))
    second = save(store, key="pas|urn:trn|hot-2", order=make_order(member="M-hot", request_id="r2",
                                                                    drugs=("pertuzumab",)),
                  decision=make_decision(drugs=("pertuzumab",)))
    save(store, key="pas|urn:trn|other", order=make_order(member="M-other"))
    store.update_case(first.order_id, request_key="pas|urn:trn|hot-1-update", order=make_order(member="M-hot"),
                      decision=make_decision(), raw_request={"resourceType": "Bundle"},
                      render_response=lambda oid: {"id": oid})
    for key, on_file in (("pas|urn:trn|hot-1", True), ("pas|urn:trn|hot-1-update", True),
                         ("pas|urn:trn|other", True), ("pas|urn:trn|new", False)):
        history, known = store.history_and_key("M-hot", key)
        assert known is on_file and (store.find_case_by_request_key(key) is not None) is on_file
        assert history == store.history_for_member("M-hot")
    assert [c.order_id for c in history.prior_cases] == [first.order_id, second.order_id]
    assert history.prior_cases[1].drug_keys == frozenset({"pertuzumab"})
    empty, known = store.history_and_key("M-nobody", "pas|urn:trn|hot-2")
    assert empty.prior_cases == () and known is True


pytestmark = pytest.mark.integration
