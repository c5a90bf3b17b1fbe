"""Domain dataclasses <-> JSON-ready values, driven by the dataclasses' own type hints.

One codec for every domain object the service stores or prints (Order, Decision, ...):
enums by value, dates and datetimes as ISO 8601, tuples as lists, frozensets as sorted lists,
nested dataclasses as objects. `from_jsonable(T, to_jsonable(x)) == x`, so a field added to the
domain model round-trips without touching this module. No framework imports.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any


_ATOMS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass' field names, looked up once per class (None: not a dataclass)."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        names = tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None
        _FIELD_NAMES[cls] = names
        return names


def to_jsonable(value: Any) -> Any:
    # Hot path (every stored case): exact-type checks first, dataclass fields cached per class.
    cls = type(value)
    if cls in _ATOMS:
        return value
    names = _field_names(cls)
    if names is not None:
        return {name: to_jsonable(getattr(value, name)) for name in names}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (frozenset, set)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(tp: Any, value: Any) -> Any:
    """Rebuild a value of type `tp` from `to_jsonable` output."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return from_jsonable(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        item = args[0] if args else Any
        return tuple(from_jsonable(item, v) for v in value)
    if origin in (frozenset, set):
        item = args[0] if args else Any
        return frozenset(from_jsonable(item, v) for v in value)
    if origin is list:
        return [from_jsonable(args[0] if args else Any, v) for v in value]
    if tp is Any or origin is dict:
        return value
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            kwargs = {f.name: from_jsonable(hints[f.name], value[f.name])
                      for f in dataclasses.fields(tp) if f.name in value}
            return tp(**kwargs)
        if issubclass(tp, Enum):
            return tp(value)
        if issubclass(tp, datetime):
            return datetime.fromisoformat(value)
        if issubclass(tp, date):
            return date.fromisoformat(value)
        if tp is float and isinstance(value, int):
            return float(value)
    return value
