"""The store's fast codec (orjson's walk of the dataclasses) gives exactly what the domain codec
gives, on the cases of the request fixtures and on values with every kind of field."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from reliability.harness import load_fixture, make_app
from server.domain.codec import to_jsonable
from server.store import serialize

CASES = ("pas/thp-her2-positive.json", "pas/trastuzumab-her2-negative.json",
         "pas/mixed-trastuzumab-her2-unknown-letrozole.json", "pas/palbociclib-letrozole-oral.json")


def test_orders_and_decisions_of_the_fixture_cases_encode_the_same_both_ways(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'codec.db'}")
    client = app.test_client()
    store = app.extensions["oncopath.store"]
    sign = client.post("/cds-services/oncopath-order-sign", json=load_fixture("hooks/order-sign-thp-her2-positive.json"))
    assert sign.status_code == 200
    ids = [client.post("/fhir/Claim/$submit", json=load_fixture(n)).get_json()["entry"][0]["resource"]
           ["identifier"][0]["value"] for n in CASES]
    for order_id in ids:
        record = store.get_case(order_id)
        order, decision = record.order_obj(), record.decision_obj()
        assert serialize.order_to_dict(order) == to_jsonable(order)
        assert serialize.decision_to_dict(decision) == to_jsonable(decision)
        assert serialize.order_from_dict(serialize.order_to_dict(order)) == order


def test_every_kind_of_field_encodes_the_same_both_ways():
    from dataclasses import dataclass

    from server.domain.decision import CaseStatus

    @dataclass(frozen=True)
    class Inner:
        when: datetime
        day: date
        codes: frozenset

    @dataclass(frozen=True)
    class Outer:
        status: CaseStatus
        items: tuple
        inner: Inner | None
        ratio: float
        big: int

    value = Outer(CaseStatus.IN_PROGRESS, (1, "a", None, True),
                  Inner(datetime(2026, 11, 16, 14, 0, 0, 123000, tzinfo=timezone(timedelta(hours=-5))),
                        date(2026, 12, 1), frozenset({"b", "a", "c"})), 1e-7, 2 ** 40)
    assert serialize.jsonable(value) == to_jsonable(value)
    huge = Outer(CaseStatus.AUTHORIZED, (), None, 0.5, 2 ** 80)     # beyond orjson: the domain codec
    assert serialize.jsonable(huge) == to_jsonable(huge)


pytestmark = pytest.mark.integration
