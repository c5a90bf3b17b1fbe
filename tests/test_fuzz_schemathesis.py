"""Schemathesis fuzzes every operation of /openapi.json in-process (WSGI): positive and negative
examples, a fixed number per operation, derandomized (the same cases on every run), with a
physician reviewer's token on the reviewer API.

Properties of every answer (reliability.harness.problems + schemathesis' checks): no 5xx; the
status code, content type and body match the document; every 4xx is an OperationOutcome (the
portal's HTML pages for people excepted); a rejected request writes no row in any table.
`python -m reliability.fuzz --examples N` runs the same with more examples."""
from __future__ import annotations

from reliability.fuzz import fuzz_api
from reliability.harness import make_app

EXAMPLES_PER_OPERATION_AND_MODE = 6


def test_every_documented_operation_answers_within_its_contract_and_never_with_a_server_error(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'fuzz.db'}")
    stats = fuzz_api(app, examples=EXAMPLES_PER_OPERATION_AND_MODE)
    assert stats.failures == []
    from server.openapi import document

    operations = sum(len(ops) for ops in document()["paths"].values())
    # schemathesis draws no case for GET /openapi.json (the document itself); every other runs
    assert len(stats.cases) >= operations - 1 >= 40, "every operation of the document is exercised"
    assert stats.total >= 250
    assert {400, 401, 404}.issubset(stats.statuses), stats.statuses   # bad input, no token, unknown
    assert 200 in stats.statuses
    assert not any(status >= 500 for status in stats.statuses)

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
