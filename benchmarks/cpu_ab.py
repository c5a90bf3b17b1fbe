"""In-process CPU per request: the app on a temporary SQLite file, driven through Flask's test
client (no HTTP server, no load client), timed with `time.process_time()` (this process's CPU,
which other processes on a shared machine do not inflate, unlike the wall clock).

    python -m benchmarks.cpu_ab [-n 150] [--repeat 3] [--json out.json] [--postgresql]

Per repeat: a fresh app and database, a warm-up, then `n` order-sign calls (the three mixes of
benchmarks/workloads.py in turn: on pathway, pended, off pathway; each a new hookInstance and
member) and `n` `Claim/$submit` calls (the THP Bundle, a new Claim and member each), every
answer checked for its status code. Printed: CPU ms per request of each repeat and the median
over repeats. For an A/B, run it on each commit (e.g. a second worktree) and compare medians;
it only uses what every commit since the workloads module has (reliability.harness.make_app,
server.serving.prepare).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import workloads


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class _Postgres:
    """A fresh database `oncopath_cpu_ab_<pid>` on the local PostgreSQL, dropped afterwards."""

    def __init__(self):
        self.name = f"oncopath_cpu_ab_{os.getpid()}"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql)

    def __enter__(self):
        self._admin(f"DROP DATABASE IF EXISTS {self.name}")
        self._admin(f"CREATE DATABASE {self.name}")
        return self

    def __exit__(self, *exc):
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")

    def server_cpu_seconds(self) -> float:
        """CPU time of the server processes (backends) connected to this database, from /proc:
        the database's own share of each request (it runs on the same machine)."""
        import psycopg
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                               (self.name,)).fetchall()]
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])      # utime + stime
        return total / ticks


def _app(tmp: Path, database_url: str | None = None):
    from reliability.harness import make_app
    from server.serving import prepare

    app = make_app(database_url or f"sqlite:///{tmp / 'cpu-ab.db'}")
    return prepare(app)           # as a serving process: validators compiled, start-up objects frozen


def _cpu_per_request(client, path: str, bodies: list[bytes]) -> float:
    """CPU ms per request over `bodies`, each answer checked."""
    t0 = time.process_time()
    for body in bodies:
        resp = client.post(path, data=body, content_type="application/json")
        if resp.status_code != 200:
            raise SystemExit(f"{path}: HTTP {resp.status_code}: {resp.get_data(as_text=True)[:300]}")
    return (time.process_time() - t0) * 1000 / len(bodies)


def _bodies(kind: str, n: int, tag: str) -> list[bytes]:
    if kind == "order-sign":
        templates = [workloads.order_sign(mix) for mix in workloads.ORDER_SIGN_MIXES]
        return [json.dumps(workloads.concrete(templates[i % 3], f"{tag}{i}")).encode() for i in range(n)]
    template = workloads.pas_submit()
    return [json.dumps(workloads.concrete(template, f"{tag}{i}")).encode() for i in range(n)]


def run_once(n: int, warmup: int, repeat_index: int, postgresql: bool = False) -> dict[str, float]:
    if postgresql:
        with _Postgres() as db, tempfile.TemporaryDirectory(prefix="oncopath-cpu-ab-") as tmp:
            return _measure(_app(Path(tmp), db.url), n, warmup, repeat_index, db.server_cpu_seconds)
    with tempfile.TemporaryDirectory(prefix="oncopath-cpu-ab-") as tmp:
        return _measure(_app(Path(tmp)), n, warmup, repeat_index)


def _measure(app, n: int, warmup: int, repeat_index: int, server_cpu=None) -> dict[str, float]:
    """CPU ms per request of this process; with `server_cpu` (PostgreSQL) also the database
    server's, as '<kind> (database)' (the pool's connections are open after the warm-up)."""
    client = app.test_client()
    out = {}
    for kind, path in (("order-sign", workloads.SIGN_PATH), ("submit", workloads.SUBMIT_PATH)):
        _cpu_per_request(client, path, _bodies(kind, warmup, f"w{repeat_index}{kind[0]}"))
        before = server_cpu() if server_cpu else 0.0
        out[kind] = _cpu_per_request(client, path, _bodies(kind, n, f"r{repeat_index}{kind[0]}"))
        if server_cpu:
            out[f"{kind} (database)"] = (server_cpu() - before) * 1000 / n
    app.extensions["oncopath.store"].dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.cpu_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=150, help="requests of each kind per repeat (default 150)")
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--postgresql", action="store_true",
                        help="a fresh database on the local PostgreSQL (127.0.0.1:5432) instead of SQLite; "
                             "only this process's CPU is counted, not the database server's")
    args = parser.parse_args(argv)

    import logging
    logging.disable(logging.WARNING)
    runs = [run_once(args.n, args.warmup, i, args.postgresql) for i in range(args.repeat)]
    medians = {kind: statistics.median(r[kind] for r in runs) for kind in runs[0]}
    for kind in medians:
        each = ", ".join(f"{r[kind]:.2f}" for r in runs)
        print(f"{kind:11s} CPU ms/request: median {medians[kind]:.2f}  (repeats: {each}; n={args.n})")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": args.n, "runs": runs, "median": medians}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
