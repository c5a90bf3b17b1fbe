"""Domain objects <-> JSON-ready dicts for the store (through the one domain codec)."""
from __future__ import annotations

from server.domain.codec import from_jsonable, to_jsonable
from server.domain.decision import Decision
from server.domain.order import Order


def order_to_dict(order: Order) -> dict:
    return to_jsonable(order)


def order_from_dict(data: dict) -> Order:
    return from_jsonable(Order, data)


def decision_to_dict(decision: Decision) -> dict:
    return to_jsonable(decision)


def decision_from_dict(data: dict) -> Decision:
    return from_jsonable(Decision, data)
