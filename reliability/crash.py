"""Crash durability: SIGKILL gunicorn (master and workers) in the middle of a `Claim/$submit`
load, restart it, and check the promise of a 200:

- every submission that got a 200 is on file after the restart: `$inquire` finds exactly that
  Order ID, and resubmitting it answers byte-for-byte the response it got before the crash;
- every submission that got no answer (cut by the kill), resubmitted, is decided exactly once:
  a second resubmission gives the same Order ID, and `$inquire` finds one case, not two.

    python -m reliability.crash --rounds 5 [--database-url postgresql+psycopg://...] [--clients 4]

Without --database-url each round uses a fresh SQLite file. The CI version is
tests/test_crash_durability.py (one round on SQLite, one on PostgreSQL).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from reliability.service import GunicornService, inquiry_bundle, inquiry_order_ids, order_id, submit_bundle

FHIR = {"Content-Type": "application/fhir+json"}


@dataclass
class CrashResult:
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    committed_unacknowledged: int = 0   # cut before the answer, but on file after the restart
    lost: list[str] = field(default_factory=list)          # acked, but not on file / different after restart
    duplicated: list[str] = field(default_factory=list)    # more than one case for one request
    errors: list[str] = field(default_factory=list)        # non-200 answers (none expected)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.errors)

    def merge(self, other: "CrashResult") -> None:
        self.sent += other.sent
        self.acknowledged += other.acknowledged
        self.unacknowledged += other.unacknowledged
        self.committed_unacknowledged += other.committed_unacknowledged
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.errors += other.errors

    def line(self) -> str:
        return (f"sent {self.sent}, acknowledged {self.acknowledged}, unacknowledged {self.unacknowledged} "
                f"({self.committed_unacknowledged} of them committed before the kill), "
                f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, errors {len(self.errors)}")


def _submit(session: requests.Session, base: str, key: str, timeout: float = 30) -> dict:
    resp = session.post(f"{base}/fhir/Claim/$submit", data=json.dumps(submit_bundle(key)), headers=FHIR,
                        timeout=timeout)
    if resp.status_code != 200:
        raise AssertionError(f"{key}: $submit answered {resp.status_code}: {resp.text[:200]}")
    return resp.json()


def _inquire(session: requests.Session, base: str, key: str) -> list[str]:
    resp = session.post(f"{base}/fhir/Claim/$inquire", data=json.dumps(inquiry_bundle(key)), headers=FHIR,
                        timeout=30)
    if resp.status_code != 200:
        raise AssertionError(f"{key}: $inquire answered {resp.status_code}: {resp.text[:200]}")
    return inquiry_order_ids(resp.json())


def crash_round(database_url: str, workdir: Path, *, clients: int = 4, kill_after_acks: int = 12,
                max_load_seconds: float = 20.0, workers: int = 2) -> CrashResult:
    """One round: load, SIGKILL, restart, verify. The load stops by itself (count and time)."""
    run = uuid.uuid4().hex[:8]
    result = CrashResult()
    acked: dict[str, dict] = {}
    attempted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    service = GunicornService(database_url, workdir / f"gunicorn-{run}.log", workers=workers).start()
    try:
        def client(n: int) -> None:
            session = requests.Session()
            i = 0
            deadline = time.monotonic() + max_load_seconds
            while not stop.is_set() and time.monotonic() < deadline and i < 10_000:
                key = f"{run}-{n}-{i}"
                i += 1
                with lock:
                    attempted.append(key)
                try:
                    body = _submit(session, service.base, key)
                except requests.RequestException:
                    return            # the server is gone: this one is unacknowledged
                except AssertionError as exc:
                    with lock:
                        result.errors.append(str(exc))
                    return
                with lock:
                    acked[key] = body

        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(client, n) for n in range(clients)]
            deadline = time.monotonic() + max_load_seconds
            while len(acked) < kill_after_acks and time.monotonic() < deadline and not result.errors:
                time.sleep(0.005)
            time.sleep(random.uniform(0, 0.03))   # land the kill anywhere in the requests in flight
            service.kill()            # mid-load: requests are in flight in every client
            stop.set()
            for f in futures:
                f.result()
    finally:
        service.kill()

    result.sent = len(attempted)
    result.acknowledged = len(acked)
    unacked = [k for k in attempted if k not in acked]
    result.unacknowledged = len(unacked)

    service = GunicornService(database_url, workdir / f"gunicorn-{run}-restart.log", workers=workers).start()
    try:
        session = requests.Session()
        for key, body in acked.items():
            found = _inquire(session, service.base, key)
            if found != [order_id(body)]:
                result.lost.append(f"{key}: acked {order_id(body)}, inquiry finds {found}")
                continue
            again = _submit(session, service.base, key)
            if again != body:
                result.lost.append(f"{key}: resubmission answers differently from the acknowledged 200")
        for key in unacked:
            before = _inquire(session, service.base, key)
            if len(before) > 1:
                result.duplicated.append(f"{key}: {len(before)} cases before any resubmission")
            result.committed_unacknowledged += len(before) == 1
            first = _submit(session, service.base, key)
            second = _submit(session, service.base, key)
            found = _inquire(session, service.base, key)
            if order_id(first) != order_id(second) or found != [order_id(first)]:
                result.duplicated.append(f"{key}: resubmissions {order_id(first)}/{order_id(second)}, "
                                         f"inquiry finds {found}")
    finally:
        service.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.crash", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file per round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--kill-after", type=int, default=25, help="acknowledged submissions before the kill")
    args = parser.parse_args(argv)
    total = CrashResult()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            url = args.database_url or f"sqlite:///{tmp}/crash-{r}.db"
            one = crash_round(url, Path(tmp), clients=args.clients, kill_after_acks=args.kill_after)
            print(f"round {r + 1}: {one.line()}", flush=True)
            total.merge(one)
    print(f"total over {args.rounds} rounds: {total.line()}")
    for problem in (total.lost + total.duplicated + total.errors)[:30]:
        print("FAIL", problem)
    return 0 if total.ok else 1


if __name__ == "__main__":
    sys.exit(main())
