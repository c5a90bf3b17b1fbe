"""order-sign latency, in process: a 6-drug regimen with 30 prefetch resources.

    .venv/bin/python benchmarks/order_sign_latency.py [-n 500] [--database-url sqlite:///...]

Builds an order-sign call (mFOLFOX6 + bevacizumab + ondansetron: six draft MedicationRequests)
whose prefetch holds 30 resources (the patient record plus routine labs the decision never reads),
posts it N times through the Flask test client (JWT off, each call a new hookInstance and a new
member, so every call maps, decides, stores a case and renders), and prints p50/p95/p99/max in ms.
Target: p95 < 50 ms. Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.workloads import concrete, order_sign  # noqa: E402

from server.app import create_app  # noqa: E402


def percentile(sorted_ms: list[float], p: float) -> float:
    k = max(0, min(len(sorted_ms) - 1, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temp directory")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.db",
                          "CDS_JWT_REQUIRED": False, "PUBLIC_BASE_URL": "https://oncopath.example.org"})
        # The fixtures' regimen starts 2026-12-01: review it as of a day before, whatever today is.
        app.extensions["oncopath.clock"] = lambda: datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
        client = app.test_client()
        template = order_sign("on-pathway", prefetch=30)   # __UNIQ__ marks hookInstance and member
        payload_kb = len(json.dumps(template)) / 1024

        def one() -> float:
            # a new hookInstance and member each call: a new case, no duplicate history
            body = json.dumps(concrete(template, uuid.uuid4().hex[:12])).encode()
            start = time.perf_counter()
            resp = client.post("/cds-services/oncopath-order-sign", data=body, content_type="application/json")
            elapsed = (time.perf_counter() - start) * 1000
            if resp.status_code != 200:
                raise SystemExit(f"unexpected {resp.status_code}: {resp.get_data(as_text=True)[:500]}")
            return elapsed

        first = client.post("/cds-services/oncopath-order-sign", json=concrete(template, "check")).get_json()
        for _ in range(args.warmup):
            one()
        times = sorted(one() for _ in range(args.n))
        print(f"order-sign, 6 draft orders, 30 prefetch resources ({payload_kb:.0f} KB), n={args.n}")
        print(f"  cards: {[c['summary'][:60] for c in first['cards']]}")
        print(f"  systemActions: {len(first['systemActions'])}")
        print(f"  p50 {percentile(times, 50):.1f} ms  p95 {percentile(times, 95):.1f} ms  "
              f"p99 {percentile(times, 99):.1f} ms  max {times[-1]:.1f} ms  mean {statistics.fmean(times):.1f} ms")
        print(f"  target p95 < 50 ms: {'met' if percentile(times, 95) < 50 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
