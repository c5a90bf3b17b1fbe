"""Soak: a mixed load (CDS Hooks order-sign, PAS Claim/$submit, Claim/$inquire) against
`oncopath serve` (gunicorn) on 127.0.0.1, for a bounded time and a bounded number of requests.

    python -m reliability.soak --minutes 10 [--rate 40] [--clients 4] [--database-url URL]

Reports: requests and errors per operation, p50/p99 latency of the first and of the last window
(a minute, or a quarter of a shorter run) and their drift, and the RSS of gunicorn (master +
workers) after warm-up and at the end. Each request has its own identifiers (Claim identifier,
hookInstance, member), as in production; each inquiry asks for a case submitted earlier.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from reliability.service import GunicornService, hook_request, inquiry_bundle, inquiry_order_ids, order_id, submit_bundle

FHIR = {"Content-Type": "application/fhir+json"}
MIX = ("order-sign", "submit", "inquire")


@dataclass
class Sample:
    at: float          # seconds since the start of the load
    op: str
    latency: float     # seconds
    ok: bool


@dataclass
class SoakReport:
    seconds: float
    requests: int
    errors: int
    by_op: dict
    first_p50_ms: float
    first_p99_ms: float
    last_p50_ms: float
    last_p99_ms: float
    window_seconds: float
    rss_start_mb: float
    rss_end_mb: float
    error_examples: list = field(default_factory=list)

    @property
    def p99_drift_ms(self) -> float:
        return self.last_p99_ms - self.first_p99_ms

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb

    def lines(self) -> list[str]:
        ops = ", ".join(f"{op} {v['requests']} ({v['errors']} errors)" for op, v in self.by_op.items())
        return [f"duration {self.seconds:.0f} s, {self.requests} requests ({ops}), {self.errors} errors",
                f"latency first {self.window_seconds:.0f} s: p50 {self.first_p50_ms:.1f} ms, p99 {self.first_p99_ms:.1f} ms; "
                f"last {self.window_seconds:.0f} s: p50 {self.last_p50_ms:.1f} ms, p99 {self.last_p99_ms:.1f} ms; "
                f"p99 drift {self.p99_drift_ms:+.1f} ms",
                f"gunicorn RSS after warm-up {self.rss_start_mb:.1f} MB, at the end {self.rss_end_mb:.1f} MB, "
                f"growth {self.rss_growth_mb:+.1f} MB"]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def soak(database_url: str, workdir: Path, *, seconds: float, rate: float = 40.0, clients: int = 4,
         max_requests: int = 100_000, warmup_seconds: float = 3.0, workers: int = 2) -> SoakReport:
    service = GunicornService(database_url, workdir / "soak-gunicorn.log", workers=workers).start()
    samples: list[Sample] = []
    errors: list[str] = []
    submitted: list[str] = []
    lock = threading.Lock()
    counter = iter(range(max_requests))
    run = f"{int(time.time())}"
    try:
        # warm-up: every operation once per worker, so lazy imports and caches are not "growth"
        warm = requests.Session()
        for i in range(workers * 3):
            _one(warm, service.base, "order-sign", f"{run}-w{i}", submitted, lock)
            _one(warm, service.base, "submit", f"{run}-w{i}", submitted, lock)
            _one(warm, service.base, "inquire", f"{run}-w{i}", submitted, lock)
        time.sleep(warmup_seconds)
        rss_start = service.rss_bytes()
        start = time.monotonic()
        end = start + seconds
        interval = clients / rate if rate > 0 else 0.0

        def client(n: int) -> None:
            session = requests.Session()
            next_at = time.monotonic()
            while True:
                now = time.monotonic()
                if now >= end:
                    return
                try:
                    i = next(counter)
                except StopIteration:
                    return
                op = MIX[i % len(MIX)]
                t0 = time.monotonic()
                ok, why = _one(session, service.base, op, f"{run}-{i}", submitted, lock)
                latency = time.monotonic() - t0
                with lock:
                    samples.append(Sample(t0 - start, op, latency, ok))
                    if not ok and len(errors) < 20:
                        errors.append(f"{op}: {why}")
                next_at += interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    next_at = time.monotonic()

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 60)
        elapsed = time.monotonic() - start
        rss_end = service.rss_bytes()
    finally:
        service.stop()

    window = min(60.0, elapsed / 4)
    first = [s.latency for s in samples if s.at < window]
    last = [s.latency for s in samples if s.at >= elapsed - window]
    by_op = {op: {"requests": sum(1 for s in samples if s.op == op),
                  "errors": sum(1 for s in samples if s.op == op and not s.ok)} for op in MIX}
    return SoakReport(seconds=elapsed, requests=len(samples), errors=sum(1 for s in samples if not s.ok),
                      by_op=by_op, first_p50_ms=_percentile(first, 0.5) * 1000,
                      first_p99_ms=_percentile(first, 0.99) * 1000, last_p50_ms=_percentile(last, 0.5) * 1000,
                      last_p99_ms=_percentile(last, 0.99) * 1000, window_seconds=window,
                      rss_start_mb=rss_start / 2**20, rss_end_mb=rss_end / 2**20, error_examples=errors)


def _one(session: requests.Session, base: str, op: str, key: str, submitted: list[str],
         lock: threading.Lock) -> tuple[bool, str]:
    """One request of the mix; (ok, why not)."""
    try:
        if op == "order-sign":
            resp = session.post(f"{base}/cds-services/oncopath-order-sign", json=hook_request(key), timeout=30)
            ok = resp.status_code == 200 and isinstance(resp.json().get("cards"), list)
        elif op == "submit":
            resp = session.post(f"{base}/fhir/Claim/$submit", data=json.dumps(submit_bundle(key)), headers=FHIR,
                                timeout=30)
            ok = resp.status_code == 200 and order_id(resp.json()) is not None
            if ok:
                with lock:
                    submitted.append(key)
        else:
            with lock:
                earlier = submitted[len(submitted) // 2] if submitted else None
            if earlier is None:
                return True, ""
            resp = session.post(f"{base}/fhir/Claim/$inquire", data=json.dumps(inquiry_bundle(earlier)),
                                headers=FHIR, timeout=30)
            ok = resp.status_code == 200 and len(inquiry_order_ids(resp.json())) == 1
        return ok, "" if ok else f"HTTP {resp.status_code} {resp.text[:120]}"
    except (requests.RequestException, ValueError) as exc:
        return False, type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second, all clients together")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/soak.db"
        report = soak(url, Path(tmp), seconds=args.minutes * 60, rate=args.rate, clients=args.clients,
                      max_requests=args.max_requests)
    for line in report.lines():
        print(line)
    for example in report.error_examples:
        print("ERROR", example)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
