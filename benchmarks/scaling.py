"""In-process scaling curves (no HTTP, no database):

- decision time (`engine.decide` alone) vs knowledge-base size: 1x, 10x, 100x (synthetic_kb);
- mapping + decision time vs prefetch size: ~10, 100, 1000 resources.

    .venv/bin/python -m benchmarks.scaling [--quick]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone

import mappings
from benchmarks import synthetic_kb, workloads
from server import engine
from server.domain.order import History
from server.knowledge.loader import load_knowledge

RECEIVED_AT = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def _resources(req: dict) -> tuple[list[dict], list[dict]]:
    drafts = [e["resource"] for e in req["context"]["draftOrders"]["entry"]]
    return drafts, [v for v in req["prefetch"].values() if v is not None]


def map_order(req: dict):
    drafts, resources = _resources(req)
    return mappings.order_from_resources(drafts, resources, request_id=req["hookInstance"],
                                         received_at=RECEIVED_AT, patient_id=req["context"]["patientId"])


def _time(fn, n: int) -> dict:
    for _ in range(max(3, n // 10)):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return {"n": n, "median_us": round(statistics.median(samples), 1),
            "p95_us": round(samples[int(0.95 * (n - 1))], 1), "mean_us": round(statistics.fmean(samples), 1)}


def kb_curve(factors=(1, 10, 100), n: int = 300) -> list[dict]:
    base = load_knowledge()
    orders = {mix: map_order(workloads.concrete(workloads.order_sign(mix), f"kb-{mix}"))
              for mix in workloads.ORDER_SIGN_MIXES}
    rows = []
    for factor in factors:
        kb = synthetic_kb.multiply(base, factor)
        statuses = {mix: engine.decide(o, kb, History.empty()).case_status.value for mix, o in orders.items()}
        timing = _time(lambda: [engine.decide(o, kb, History.empty()) for o in orders.values()], n)
        per_decision = {k: round(v / len(orders), 1) if k != "n" else v for k, v in timing.items()}
        rows.append({"factor": factor, **synthetic_kb.size(kb), "statuses": statuses, **per_decision})
    for row in rows:
        row["ratio_to_1x"] = round(row["median_us"] / rows[0]["median_us"], 2)
    return rows


def prefetch_curve(sizes=(10, 100, 1000), n: int = 100) -> list[dict]:
    kb = load_knowledge()
    rows = []
    for size in sizes:
        req = workloads.concrete(workloads.order_sign("on-pathway", prefetch=size), f"pf-{size}")
        body = json.dumps(req)
        actual = workloads.prefetch_count(req)

        def run():
            parsed = json.loads(body)
            return engine.decide(map_order(parsed), kb, History.empty())
        status = run().case_status.value
        reps = max(10, n if size <= 100 else n // 5)
        rows.append({"prefetch": actual, "body_kb": round(len(body) / 1024, 1), "status": status,
                     **_time(run, reps)})
    return rows


def run(quick: bool = False) -> dict:
    return {"kb_size": kb_curve(n=60 if quick else 300),
            "prefetch_size": prefetch_curve(n=30 if quick else 100)}


def markdown(result: dict) -> str:
    lines = ["### Decision time vs knowledge-base size (`engine.decide`, in process, per decision)", "",
             "| KB | cancer types | pathways | regimens | drugs | median µs | p95 µs | × 1x |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["kb_size"]:
        lines.append(f"| {r['factor']}x | {r['cancer_types']} | {r['pathways']} | {r['regimens']} | {r['drugs']} "
                     f"| {r['median_us']:.0f} | {r['p95_us']:.0f} | {r['ratio_to_1x']:.2f} |")
    lines += ["", "### Mapping + decision time vs prefetch size (json.loads + map + decide, in process)", "",
              "| prefetch resources | body KB | median ms | p95 ms |", "|---|---|---|---|"]
    for r in result["prefetch_size"]:
        lines.append(f"| {r['prefetch']} | {r['body_kb']} | {r['median_us'] / 1000:.2f} | {r['p95_us'] / 1000:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(markdown(run(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
