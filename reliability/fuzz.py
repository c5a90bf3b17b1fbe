"""Fuzz the whole HTTP surface, in-process (WSGI), and count what was tried.

    python -m reliability.fuzz --examples 200 [--seed 7] [--database-url sqlite:///tmp/f.db]

Two parts, both checking the same properties (reliability.harness.problems): no 5xx, every 4xx
an OperationOutcome (portal HTML excepted), nothing written for a rejected request — and for
the API part also the OpenAPI contract (status, content type, response schema):

1. schemathesis: every operation of /openapi.json, positive and negative examples;
2. mutated FHIR bodies (reliability.mutations): the fixture PAS Bundles and CDS Hooks requests
   with one part replaced by random JSON, a wrong type, deep nesting, a huge or odd unicode
   string, or a duplicated entry, posted to $submit, $inquire and order-sign/order-select.

CI runs a small, derandomized version (tests/test_fuzz_schemathesis.py, test_fuzz_mappings.py).
"""
from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, seed as hypothesis_seed, settings
from hypothesis.errors import Unsatisfiable

from reliability.harness import make_app, problems, reviewer_token, writes


@dataclass
class FuzzStats:
    cases: Counter = field(default_factory=Counter)        # per operation
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def merge(self, other: "FuzzStats") -> None:
        self.cases.update(other.cases)
        self.statuses.update(other.statuses)
        self.failures.extend(other.failures)


def _settings(examples: int, derandomize: bool):
    return settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


def _content_type(headers) -> str:
    value = headers.get("Content-Type") or headers.get("content-type") or ""
    return value[0] if isinstance(value, list) else value


def _bind(fn, **bound):
    """fn with keyword arguments fixed and one left to draw (hypothesis' @given refuses a
    function with defaults, and closures in a loop need their values bound)."""
    drawn_name = next(n for n in fn.__code__.co_varnames[:fn.__code__.co_argcount] if n not in bound)

    def wrapper(**drawn):
        return fn(**drawn, **bound)

    wrapper.__signature__ = inspect.Signature([inspect.Parameter(drawn_name, inspect.Parameter.KEYWORD_ONLY)])
    wrapper.__name__ = wrapper.__qualname__ = fn.__name__
    return wrapper


def fuzz_api(app, *, examples: int, seed: int | None = None, modes=("positive", "negative")) -> FuzzStats:
    """schemathesis over every operation of the app's /openapi.json."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.checks import (content_type_conformance, not_a_server_error,
                                     response_schema_conformance, status_code_conformance)

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    token = reviewer_token(app)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    stats = FuzzStats()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        headers = {}
        if operation.path.startswith("/review/api/") and operation.path != "/review/api/token":
            headers["Authorization"] = f"Bearer {token}"
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

            def one(case, label, headers):
                before = writes(app)
                response = case.call(headers=headers)
                after = writes(app)
                stats.cases[label] += 1
                stats.statuses[response.status_code] += 1
                found = problems(response.status_code, _content_type(response.headers), response.content,
                                 before, after, path=case.path)
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as exc:   # schemathesis: a FailureGroup naming each check
                    found.append(f"contract: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
                if found:
                    stats.failures.append(f"{label} [{mode}]: {found[0]}")

            test = given(case=strategy)(_bind(one, label=label, headers=headers))
            test = _settings(examples, derandomize=seed is None)(test)
            if seed is not None:
                test = hypothesis_seed(seed)(test)
            try:
                test()
            except Unsatisfiable:   # nothing to break (no parameters, or only free strings): no negative case
                pass
            except (Exception, BaseExceptionGroup) as exc:   # generation trouble is a finding too
                stats.failures.append(f"{label} [{mode}]: {type(exc).__name__}: {str(exc)[:200]}")
    return stats


def fuzz_bodies(app, *, examples: int, seed: int | None = None) -> FuzzStats:
    """Mutated fixture bodies against the FHIR and CDS Hooks doors."""
    from reliability import mutations

    client = app.test_client()
    stats = FuzzStats()
    for target in mutations.TARGETS:
        base = mutations.base_body(target)

        def one(mutated, target):
            before = writes(app)
            resp = client.post(target.path, json=mutated, headers={"Content-Type": target.content_type})
            after = writes(app)
            stats.cases[target.name] += 1
            stats.statuses[resp.status_code] += 1
            found = problems(resp.status_code, resp.headers.get("Content-Type", ""), resp.data, before, after)
            if found:
                stats.failures.append(f"{target.name}: {found[0]}")

        test = given(mutated=mutations.mutated(base))(_bind(one, target=target))
        test = _settings(examples, derandomize=seed is None)(test)
        if seed is not None:
            test = hypothesis_seed(seed)(test)
        try:
            test()
        except (Exception, BaseExceptionGroup) as exc:
            stats.failures.append(f"{target.name}: {type(exc).__name__}: {str(exc)[:200]}")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100, help="examples per operation and mode / per target")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: derandomized)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--only", choices=["api", "bodies"], default=None, help="run one part only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(args.database_url or f"sqlite:///{tmp}/fuzz.db")
        started = time.monotonic()
        api = fuzz_api(app, examples=args.examples, seed=args.seed) if args.only != "bodies" else FuzzStats()
        bodies = fuzz_bodies(app, examples=args.examples, seed=args.seed) if args.only != "api" else FuzzStats()
        elapsed = time.monotonic() - started
    total = FuzzStats()
    total.merge(api)
    total.merge(bodies)
    print(f"schemathesis: {api.total} requests over {len(api.cases)} operations, {len(api.failures)} failures")
    print(f"mutated FHIR bodies: {bodies.total} requests over {len(bodies.cases)} targets, "
          f"{len(bodies.failures)} failures")
    print("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(total.statuses.items())))
    print(f"total: {total.total} requests, {len(total.failures)} failures, {elapsed:.0f} s")
    for failure in total.failures[:50]:
        print("FAIL", failure)
    return 1 if total.failures else 0


if __name__ == "__main__":
    sys.exit(main())
