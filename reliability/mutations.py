"""Hypothesis strategies: structurally valid FHIR bodies (the fixtures) with one to three parts
broken — random JSON, a wrong type, deep nesting, a huge string, odd unicode, a removed key,
a duplicated entry (same id twice). Used by tests/test_fuzz_mappings.py and reliability.fuzz."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from reliability.harness import load_fixture


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    fixture: str
    content_type: str = "application/json"


TARGETS = (
    Target("pas-submit", "/fhir/Claim/$submit", "pas/thp-her2-positive.json", "application/fhir+json"),
    Target("pas-inquire", "/fhir/Claim/$inquire", "pas/inquiry-riverside.json", "application/fhir+json"),
    Target("order-sign", "/cds-services/oncopath-order-sign", "hooks/order-sign-thp-her2-positive.json"),
    Target("order-select", "/cds-services/oncopath-order-select", "hooks/order-select-thp-her2-positive.json"),
)


def base_body(target: Target) -> dict:
    return load_fixture(target.fixture)


ODD_STRINGS = ["", " ", "\u0000", "\ud800", "\u202eevil", "💊🧬", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "null", "0", "-1",
               "9" * 400, "Patient/", "Patient/../../etc", "http://", "urn:uuid:", "1e309", "NaN",
               "2026-02-30", "2026-11-22T25:61:00Z", "<script>alert(1)</script>", "' OR 1=1 --"]
WRONG_TYPES = [None, True, False, 0, -1, 2 ** 70, 1.5, float("inf"), "", "x", [], [None], {}, {"x": 1}]

_leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
           | st.sampled_from(ODD_STRINGS))
RANDOM_JSON = st.recursive(_leaves, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every location in a JSON document, as a tuple of keys/indexes."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(paths(value, prefix + (key,)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(paths(value, prefix + (i,)))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _nest(value: Any, depth: int) -> Any:
    for i in range(depth):
        value = [value] if i % 2 else {"x": value}
    return value


@st.composite
def mutation(draw, doc: Any) -> Any:
    where = draw(st.sampled_from(paths(doc)))
    kind = draw(st.sampled_from(["random", "wrong-type", "odd-string", "huge-string", "deep", "delete",
                                 "duplicate"]))
    if kind == "random":
        return _set(doc, where, draw(RANDOM_JSON))
    if kind == "wrong-type":
        return _set(doc, where, draw(st.sampled_from(WRONG_TYPES)))
    if kind == "odd-string":
        return _set(doc, where, draw(st.sampled_from(ODD_STRINGS)) + draw(st.text(max_size=5)))
    if kind == "huge-string":
        return _set(doc, where, draw(st.sampled_from(["A", "é", "💊", "\u0301"])) * draw(st.sampled_from([10_000, 300_000])))
    if kind == "deep":
        return _set(doc, where, _nest(draw(_leaves), draw(st.sampled_from([8, 40, 63, 70, 500]))))
    if kind == "delete":
        if where and isinstance(_get(doc, where[:-1]), dict):
            del _get(doc, where[:-1])[where[-1]]
        return doc
    # duplicate: the nearest list above gets one of its items again (e.g. an entry, same id)
    for cut in range(len(where), 0, -1):
        parent = _get(doc, where[:cut - 1])
        if isinstance(parent, list) and isinstance(where[cut - 1], int):
            parent.insert(where[cut - 1], copy.deepcopy(parent[where[cut - 1]]))
            break
    return doc


@st.composite
def mutated(draw, base: dict) -> Any:
    """The base body with one to three mutations."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        doc = draw(mutation(doc))
    return doc
