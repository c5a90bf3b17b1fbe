"""Domain objects <-> JSON-ready dicts for the store (through the one domain codec).

Writing (every new case: the Order and the Decision, ~600 objects) takes orjson's own walk of
the dataclasses instead of the codec's Python one: the same JSON-ready value (enums by value,
dates and datetimes in ISO 8601, tuples as lists, frozensets as sorted lists; a test holds the
two equal on the fixtures' cases), in a fraction of the time. Whatever orjson cannot encode goes
through `to_jsonable`.
"""
from __future__ import annotations

import orjson

from server.domain.codec import from_jsonable, to_jsonable
from server.domain.decision import Decision
from server.domain.order import Order


def _sets(value):
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    raise TypeError(type(value).__name__)


def jsonable(value):
    """`to_jsonable(value)`, by orjson."""
    try:
        return orjson.loads(orjson.dumps(value, default=_sets))
    except TypeError:
        return to_jsonable(value)


def order_to_dict(order: Order) -> dict:
    return jsonable(order)


def order_from_dict(data: dict) -> Order:
    return from_jsonable(Order, data)


def decision_to_dict(decision: Decision) -> dict:
    return jsonable(decision)


def decision_from_dict(data: dict) -> Decision:
    return from_jsonable(Decision, data)
