"""`oncopath review FILE`: evaluate one FHIR Bundle offline and print the decision.

The file is a PAS request Bundle (Claim first) or a collection Bundle of the patient's
resources plus the MedicationRequests ordered. The review runs with an empty history (no
prior cases) and, so that a file always gives the same answer, "now" is the Bundle's
`timestamp` when it has one.

Exit codes: 0 reviewed; 2 the file or the knowledge base could not be used (one line on stderr).
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from mappings.bundles import is_a, resource_type


def run_review(path: str, as_json: bool = False, knowledge_dir: str | None = None) -> int:
    try:
        bundle = _read_bundle(path)
        received_at = _received_at(bundle)
        from mappings import order_from_bundle
        from server.errors import ServiceError
        try:
            order = order_from_bundle(bundle, received_at=received_at)
        except ServiceError as exc:
            where = "; ".join(x for i in exc.issues for x in i.expression)
            raise _Fail(f"invalid FHIR in {path}: {exc}" + (f" (at {where})" if where and where not in str(exc) else ""))
        kb = _knowledge(knowledge_dir)
        from server.domain.order import History
        from server.engine import decide
        decision = decide(order, kb, History.empty())
    except _Fail as fail:
        print(f"oncopath review: {fail}", file=sys.stderr)
        return 2
    from server.engine.explain import decision_to_dict, explain
    text = (json.dumps(decision_to_dict(decision), indent=2, sort_keys=True, default=str)
            if as_json else explain(decision))
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # `oncopath review x.json | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


class _Fail(Exception):
    """A problem with the input the user can fix: reported in one line, exit code 2."""


def _read_bundle(path: str) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _Fail(f"no such file: {path}") from None
    except IsADirectoryError:
        raise _Fail(f"{path} is a directory, not a Bundle file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _Fail(f"cannot read {path}: {exc.__class__.__name__}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Fail(f"{path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not is_a(data, "Bundle"):
        kind = resource_type(data) if isinstance(data, dict) else type(data).__name__
        raise _Fail(f"{path} is not a FHIR Bundle (found {kind or 'no resourceType'})")
    return data


def _received_at(bundle: dict) -> datetime:
    stamp = bundle.get("timestamp")
    if isinstance(stamp, str) and stamp:
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise _Fail(f"Bundle.timestamp is not a FHIR instant: {stamp!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def _knowledge(knowledge_dir: str | None):
    from server.knowledge.loader import KnowledgeError, load_knowledge
    try:
        return load_knowledge(knowledge_dir)
    except KnowledgeError as exc:
        raise _Fail(f"knowledge base: {exc}") from None
    except OSError as exc:
        raise _Fail(f"knowledge base: cannot read {knowledge_dir or 'bundled data'}: {exc}") from None
