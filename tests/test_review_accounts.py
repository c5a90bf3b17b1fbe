"""Reviewer accounts: `oncopath reviewer create`, password hashing, no default password."""
from __future__ import annotations

from server.cli import main
from server.review import accounts
from server.store import CaseStore
from server.store.review import ReviewStore


def test_reviewer_create_reads_the_password_from_the_environment_and_prints_nothing_sensitive(tmp_path, monkeypatch,
                                                                                               capsys):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("ONCOPATH_REVIEWER_PASSWORD", "a very long secret 42")
    assert main(["reviewer", "create", "--username", "dr-lee", "--role", "physician", "--database-url", url]) == 0
    out = capsys.readouterr()
    assert "dr-lee (physician) created" in out.out and "secret" not in out.out + out.err
    store = CaseStore.from_url(url)
    reviewer = ReviewStore(store).reviewer_by_username("dr-lee")
    assert reviewer.role == "physician"
    assert accounts.verify_password("a very long secret 42", reviewer.password_hash)
    assert not accounts.verify_password("a very long secret 43", reviewer.password_hash)
    assert main(["reviewer", "create", "--username", "dr-lee", "--role", "nurse", "--database-url", url]) == 1


def test_a_short_password_or_no_password_is_refused(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("ONCOPATH_REVIEWER_PASSWORD", "short")
    assert main(["reviewer", "create", "--username", "x", "--role", "nurse", "--database-url", url]) == 2
    monkeypatch.delenv("ONCOPATH_REVIEWER_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    assert main(["reviewer", "create", "--username", "x", "--role", "nurse", "--database-url", url]) == 2
    assert "at least 12 characters" in capsys.readouterr().err


def test_the_same_password_hashes_differently_each_time():
    a, b = accounts.hash_password("same password here"), accounts.hash_password("same password here")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert not accounts.verify_password("x", "garbage")


def test_the_review_store_facade_answers_every_method_from_the_module_of_its_concern(tmp_path):
    from server.store import outbox, reporting, review_actions, reviewers, subscriptions

    reviews = ReviewStore(CaseStore.from_url(f"sqlite:///{tmp_path / 'f.db'}"))
    owners = {name: value.fget(reviews).__self__ for name, value in vars(ReviewStore).items()
              if isinstance(value, property)}
    modules = {name: type(part).__module__ for name, part in owners.items()}
    assert modules["add_reviewer"] == modules["reviewer_for_token"] == reviewers.__name__
    assert modules["apply_review"] == modules["record_action"] == review_actions.__name__
    assert modules["delete_subscription"] == subscriptions.__name__
    assert modules["claim_due_notifications"] == modules["record_attempt"] == outbox.__name__
    assert modules["pended_cases"] == modules["cases_received_between"] == reporting.__name__
    assert len(owners) == 20 and all(callable(getattr(reviews, n)) for n in owners)
    reviews.cases.dispose()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.integration
