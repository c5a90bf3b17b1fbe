"""Throughput, tail latency and scaling of oncopath, measured against a floor in one run.

    .venv/bin/python -m benchmarks.run            # ~5 minutes: 12 s per workload
    .venv/bin/python -m benchmarks.run --quick    # ~2 minutes: 3 s per workload

For each database (a fresh SQLite file; a fresh PostgreSQL database `oncopath_bench` on
127.0.0.1:5432, dropped afterwards) it starts the service under gunicorn (sync workers = cores,
the same settings as `oncopath serve`, JWT off via ONCOPATH_CDS_JWT_REQUIRED=0), then drives it
from a separate process (wrk, 16 connections, loopback) with:

  floor       POST /__floor: the same app stack parses the order-sign body, fixed answer
  order-sign  6-drug regimen, 30 prefetch resources; on-pathway / pended / off-pathway in turn;
              a new hookInstance and member per request (a new case each time)
  submit      Claim/$submit, a new Claim identifier and member per request (durable commit)
  inquire     Claim/$inquire for a member with a case on file
  case-mix    order-sign calls from the scenario corpus: on pathway, pended, off pathway, oral,
              out of program in turn (benchmarks/workloads.case_mix)

and reads the peak RSS (VmHWM) of every gunicorn worker. Against PostgreSQL it also measures
order-sign throughput with 1, 2 and 4 workers (the scale-out path), and in process the scaling
curves of benchmarks/scaling.py. Results: benchmarks/results/bench-<UTC time>.json and .md
(and latest.json / latest.md); the markdown is printed too.

Last, an in-process A/B of the last change (`--ab REV`, default HEAD~1; `--ab ''` skips it):
benchmarks/cpu_ab.py on a temporary git worktree of REV and on this tree, interleaved, CPU ms
per order-sign and per $submit (median of 3), so a run says what its last commit saved.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import workloads as wl
from server.cli import DEFAULT_THREADS as SERVE_THREADS

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
LUA = REPO / "benchmarks" / "wrk" / "post.lua"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_BENCH_DB = "oncopath_bench"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
APP = "benchmarks.floor_app:create_floor_app()"
# The access-log line of `oncopath serve` (server/cli.py): the service logs every request.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

# Issue 18's targets (16 connections, same run as the floor).
TARGETS = {"order_sign_p99_ms": 100, "order_sign_floor_ratio": 0.25, "submit_pg_p99_ms": 100,
           "order_sign_cpu_ms": 4.5, "kb_100x_ratio": 1.5, "rss_mb": 150}


# --- databases -----------------------------------------------------------------------------

class SqliteDatabase:
    name = "sqlite"

    def __enter__(self):
        self._dir = tempfile.mkdtemp(prefix="oncopath-bench-")
        self.url = f"sqlite:///{self._dir}/bench.db"
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self._dir, ignore_errors=True)


class PostgresDatabase:
    """A database of its own (`oncopath_bench`), created fresh and dropped after: nothing else is touched."""
    name = "postgresql"
    url = PG_URL

    def __enter__(self):
        self._admin("DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        self._admin("CREATE DATABASE {db}")
        return self

    def __exit__(self, *exc):
        self._admin("DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    @staticmethod
    def _admin(sql: str) -> None:
        import psycopg
        from psycopg import sql as q
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(q.SQL(sql).format(db=q.Identifier(PG_BENCH_DB)))


def migrate(url: str) -> None:
    """Create the schema once, before the workers start (they would otherwise all race to do it)."""
    from server.store.service import CaseStore
    CaseStore.from_url(url).dispose()


# --- the server under test -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metrics_dir(logdir: Path) -> Path:
    """The workers' metric files (multiprocess mode, as under `oncopath serve`): fresh per server."""
    path = Path(tempfile.mkdtemp(prefix="metrics-", dir=logdir))
    return path


class Server:
    def __init__(self, database_url: str, workers: int, logdir: Path, threads: int = 1):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, ONCOPATH_DATABASE_URL=database_url, ONCOPATH_CDS_JWT_REQUIRED="0", ONCOPATH_FHIR_AUTH_REQUIRED="0",
                   ONCOPATH_PUBLIC_BASE_URL=self.base, ONCOPATH_SECRET_KEY="benchmark-only-secret",
                   PYTHONDONTWRITEBYTECODE="1", PROMETHEUS_MULTIPROC_DIR=str(_metrics_dir(logdir)))
        # threads > 1: gthread workers, as `oncopath serve --threads N` runs them.
        thread_args = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), *thread_args,
               "--bind", f"127.0.0.1:{self.port}",
               "--access-logfile", str(logdir / f"access-{self.port}.log"),
               "--access-logformat", ACCESS_LOG_FORMAT, "--error-logfile", str(logdir / f"error-{self.port}.log"),
               APP]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers = workers
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see its error log")
            if len(self.worker_pids()) >= self.workers:
                try:
                    with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                        if r.status == 200:
                            return
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready")

    def worker_pids(self) -> list[int]:
        pids = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                pass
        return pids

    def peak_rss_mb(self) -> list[float]:
        """VmHWM (peak resident set) of each worker, in MB."""
        out = []
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        out.append(round(int(line.split()[1]) / 1024, 1))
            except OSError:
                pass
        return sorted(out)

    def cpu_seconds(self) -> float:
        """User + system CPU time of all workers so far (live workers only)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])     # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        return total / tick

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the load client -----------------------------------------------------------------------

def run_wrk(server: Server, path: str, bodies: list[Path], *, duration: float, connections: int, threads: int,
            run_id: str, out: Path) -> dict:
    """One workload; also the server's CPU time per request (robust when the machine is shared)."""
    before = server.cpu_seconds()
    result = _wrk(server.base, path, bodies, duration=duration, connections=connections, threads=threads,
                  run_id=run_id, out=out)
    spent = server.cpu_seconds() - before
    result["server_cpu_ms_per_request"] = round(spent * 1000 / result["requests"], 2) if result["requests"] else None
    return result


def _wrk(base: str, path: str, bodies: list[Path], *, duration: float, connections: int, threads: int,
         run_id: str, out: Path) -> dict:
    env = dict(os.environ, BENCH_BODIES=":".join(str(b) for b in bodies), BENCH_PATH=path,
               BENCH_RUN=run_id, BENCH_OUT=str(out))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s",
           "-s", str(LUA), base]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return load_wrk_result(out)


def load_wrk_result(path: Path) -> dict:
    """wrk's done() output -> requests/s, latency in ms, error counts."""
    raw = json.loads(Path(path).read_text())
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    errors = raw["errors"]
    return {"requests": raw["requests"], "seconds": round(seconds, 2),
            "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": round(lat["p50"] / 1000, 2), "p90_ms": round(lat["p90"] / 1000, 2),
            "p95_ms": round(lat["p95"] / 1000, 2), "p99_ms": round(lat["p99"] / 1000, 2),
            "max_ms": round(lat["max"] / 1000, 2), "mean_ms": round(lat["mean"] / 1000, 2),
            "errors": sum(errors.values()), "error_detail": errors}


# --- workloads -----------------------------------------------------------------------------

def write_bodies(tmp: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}

    def put(name: str, template: dict) -> Path:
        p = tmp / f"{name}.json"
        p.write_bytes(wl.body_bytes(template))
        return p
    files["floor"] = [put("floor", wl.floor_body())]
    files["order-sign"] = [put(f"order-sign-{mix}", wl.order_sign(mix)) for mix in wl.ORDER_SIGN_MIXES]
    files["submit"] = [put("submit", wl.pas_submit())]
    files["inquire"] = [put("inquire", wl.pas_inquiry())]
    files["case-mix"] = [put(f"case-mix-{kind}", template) for kind, template in wl.case_mix()]
    return files


WORKLOADS = {"floor": wl.FLOOR_PATH, "order-sign": wl.SIGN_PATH, "submit": wl.SUBMIT_PATH,
             "inquire": wl.INQUIRE_PATH, "case-mix": wl.SIGN_PATH}


def preflight(server: Server, run_id: str) -> dict:
    """One request of each kind, checked for content: the load then repeats known-good work."""
    seen = {}
    status, body = server.post(wl.FLOOR_PATH, wl.concrete(wl.floor_body(), f"{run_id}-pf"))
    assert status == 200 and body == {"cards": [], "systemActions": []}, (status, body)
    for mix in wl.ORDER_SIGN_MIXES:
        status, body = server.post(wl.SIGN_PATH, wl.concrete(wl.order_sign(mix), f"{run_id}-pf-{mix}"))
        summaries = [c.get("summary", "") for c in body.get("cards", [])]
        # Cards, not a given decision: the knowledge base (and the cards' wording) change between runs.
        assert status == 200 and summaries, (mix, status, body)
        seen[mix] = summaries
    status, body = server.post(wl.SUBMIT_PATH, wl.concrete(wl.pas_submit(), f"{run_id}-pf"))
    outcome = body["entry"][0]["resource"].get("outcome") if status == 200 else None
    assert status == 200 and body["entry"][0]["resource"]["resourceType"] == "ClaimResponse", (status, body)
    seen["submit"] = outcome
    status, body = server.post(wl.SUBMIT_PATH, wl.pas_seed())
    assert status == 200, (status, body)
    status, body = server.post(wl.INQUIRE_PATH, wl.pas_inquiry())
    text = json.dumps(body)
    assert status == 200 and "ClaimResponse" in text, (status, body)
    seen["inquire"] = "ClaimResponse found"
    # The case mix: each kind answered with cards (which decision it gets is the knowledge base's).
    for kind, template in wl.case_mix():
        status, body = server.post(wl.SIGN_PATH, wl.concrete(template, f"{run_id}-pf"))
        assert status == 200 and body.get("cards"), (kind, status, body)
        seen[f"case-mix {kind}"] = [c.get("summary", "")[:80] for c in body["cards"]][:1]
    return seen


def bench_database(db, args, files, tmp: Path, run_id: str) -> dict:
    migrate(db.url)
    server = Server(db.url, args.workers, tmp, args.worker_threads)
    result: dict = {"database": db.name, "workers": args.workers, "worker_threads": args.worker_threads}
    try:
        result["preflight"] = preflight(server, f"{run_id}-{db.name}")
        run_wrk(server, wl.SIGN_PATH, files["order-sign"], duration=args.warmup, connections=args.connections,
                threads=args.threads, run_id=f"{run_id}-{db.name}-warm", out=tmp / "warm.json")
        result["workloads"] = {}
        chosen = {"floor", *(w.strip() for w in args.workloads.split(",") if w.strip())}
        for name, path in WORKLOADS.items():
            if name not in chosen:
                continue
            r = run_wrk(server, path, files[name], duration=args.duration, connections=args.connections,
                        threads=args.threads, run_id=f"{run_id}-{db.name}-{name}", out=tmp / f"{db.name}-{name}.json")
            result["workloads"][name] = r
            print(f"  {db.name:10s} {name:11s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f}  p95 {r['p95_ms']:6.2f}  "
                  f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}", flush=True)
        # Service time without queueing: one connection, one request at a time.
        r = run_wrk(server, wl.SIGN_PATH, files["order-sign"], duration=args.duration, connections=1, threads=1,
                    run_id=f"{run_id}-{db.name}-single", out=tmp / f"{db.name}-single.json")
        result["order_sign_one_connection"] = r
        print(f"  {db.name:10s} order-sign, 1 connection: {r['rps']:.1f} req/s  p50 {r['p50_ms']:.2f}  "
              f"p99 {r['p99_ms']:.2f} ms", flush=True)
        result["peak_rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
    floor = result["workloads"]["floor"]["rps"]
    for r in result["workloads"].values():
        r["floor_ratio"] = round(r["rps"] / floor, 3) if floor else None
    floor_cpu = result["workloads"]["floor"]["server_cpu_ms_per_request"]
    for r in result["workloads"].values():
        cpu = r["server_cpu_ms_per_request"]
        # Throughput the CPU alone allows, relative to the floor: independent of other load on the machine.
        r["floor_ratio_cpu"] = round(floor_cpu / cpu, 3) if cpu and floor_cpu else None
    return result


def worker_curve(db, args, files, tmp: Path, run_id: str) -> list[dict]:
    """order-sign throughput against one PostgreSQL with 1, 2 and 4 gunicorn workers."""
    rows = []
    for workers in args.worker_counts:
        server = Server(db.url, workers, tmp, args.worker_threads)
        try:
            run_wrk(server, wl.SIGN_PATH, files["order-sign"], duration=args.warmup,
                    connections=args.connections, threads=args.threads, run_id=f"{run_id}-w{workers}-warm",
                    out=tmp / "warm.json")
            r = run_wrk(server, wl.SIGN_PATH, files["order-sign"], duration=args.duration,
                        connections=args.connections, threads=args.threads, run_id=f"{run_id}-w{workers}",
                        out=tmp / f"w{workers}.json")
            r["workers"] = workers
            r["peak_rss_mb"] = server.peak_rss_mb()
            rows.append(r)
            print(f"  postgresql order-sign, {workers} workers: {r['rps']:.1f} req/s  p99 {r['p99_ms']:.2f} ms", flush=True)
        finally:
            server.stop()
    return rows


def ab_last_change(rev: str, n: int, rounds: int = 3) -> dict:
    """benchmarks/cpu_ab.py on a temporary worktree of `rev` and on this tree, interleaved
    (base, this, base, this, ...), one repeat each: CPU ms per request, medians over `rounds`.
    Both sides run this tree's cpu_ab.py and workloads.py (the same requests); the base needs
    reliability.harness.make_app and server.serving.prepare (every commit since c10023e has them)."""
    import statistics

    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="oncopath-ab-"))
    base = tmp / "base"
    subprocess.run(["git", "worktree", "add", "--detach", str(base), sha], cwd=REPO, check=True, capture_output=True)
    runs: dict[str, list[dict]] = {"base": [], "this": []}
    try:
        for name in ("benchmarks/cpu_ab.py", "benchmarks/workloads.py"):
            shutil.copy(REPO / name, base / name)
        for i in range(rounds):
            for side, tree in (("base", base), ("this", REPO)):
                out = tmp / f"{side}-{i}.json"
                subprocess.run([sys.executable, "-m", "benchmarks.cpu_ab", "-n", str(n), "--repeat", "1",
                                "--json", str(out)], cwd=tree, check=True, stdout=subprocess.DEVNULL,
                               env=dict(os.environ, PYTHONPATH=str(tree)))
                runs[side].append(json.loads(out.read_text())["runs"][0])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    median = {side: {kind: round(statistics.median(r[kind] for r in rs), 2) for kind in rs[0]}
              for side, rs in runs.items()}
    return {"base": f"{rev} ({sha})", "n": n, "rounds": rounds, "median_cpu_ms": median, "runs": runs}


# --- report --------------------------------------------------------------------------------

def evaluate(result: dict) -> list[dict]:
    checks = []
    for db in result["databases"]:
        sign = db["workloads"].get("order-sign")
        errors = sum(r["errors"] for r in db["workloads"].values())
        checks.append({"target": f"0 errors in every workload ({db['database']})", "measured": str(errors),
                       "met": errors == 0})
        if sign is None:    # --workloads without order-sign
            continue
        checks.append({"target": f"order-sign p99 <= {TARGETS['order_sign_p99_ms']} ms ({db['database']})",
                       "measured": f"{sign['p99_ms']:.1f} ms", "met": sign["p99_ms"] <= TARGETS["order_sign_p99_ms"]})
        checks.append({"target": f"order-sign >= {TARGETS['order_sign_floor_ratio']:.0%} of floor ({db['database']})",
                       "measured": f"{sign['floor_ratio']:.1%}",
                       "met": sign["floor_ratio"] >= TARGETS["order_sign_floor_ratio"]})
        cpu = sign.get("server_cpu_ms_per_request")
        checks.append({"target": f"server CPU per order-sign <= {TARGETS['order_sign_cpu_ms']} ms ({db['database']})",
                       "measured": f"{cpu:.2f} ms" if cpu else "n/a",
                       "met": bool(cpu) and cpu <= TARGETS["order_sign_cpu_ms"]})
        sub = db["workloads"].get("submit")
        if db["database"] == "postgresql" and sub:
            checks.append({"target": f"Claim/$submit p99 <= {TARGETS['submit_pg_p99_ms']} ms, 0 errors (postgresql)",
                           "measured": f"{sub['p99_ms']:.1f} ms, {sub['errors']} errors",
                           "met": sub["p99_ms"] <= TARGETS["submit_pg_p99_ms"] and sub["errors"] == 0})
        rss = max(db["peak_rss_mb"] or [0])
        checks.append({"target": f"peak RSS per worker <= {TARGETS['rss_mb']} MB ({db['database']})",
                       "measured": f"{rss:.0f} MB", "met": rss <= TARGETS["rss_mb"]})
    kb = result.get("scaling", {}).get("kb_size")
    if kb:
        ratio = kb[-1]["ratio_to_1x"]
        checks.append({"target": f"decide at {kb[-1]['factor']}x KB <= {TARGETS['kb_100x_ratio']}x of 1x",
                       "measured": f"{ratio:.2f}x", "met": ratio <= TARGETS["kb_100x_ratio"]})
    return checks


def _worker_kind(result: dict) -> str:
    threads = result.get("worker_threads", 1)
    return f"gthread ({threads} threads each)" if threads > 1 else "sync"


def markdown(result: dict) -> str:
    from benchmarks import scaling
    env = result["environment"]
    lines = [f"## oncopath benchmarks — {result['started']}", "",
             f"{env['cores']} cores, {env['python']}, gunicorn {_worker_kind(result)} workers = {result['workers']}, "
             f"wrk {result['connections']} connections / {result['threads']} threads, {result['duration']:g} s per "
             f"workload, loopback. Load average before / after: {env['load_before']} / {env['load_after']}.", "",
             "| database | workload | req/s | × floor | p50 ms | p95 ms | p99 ms | errors | server CPU ms/req | × floor (CPU) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for db in result["databases"]:
        for name, r in db["workloads"].items():
            lines.append(f"| {db['database']} | {name} | {r['rps']:.0f} | {r['floor_ratio']:.2f} | {r['p50_ms']:.1f} "
                         f"| {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {r['server_cpu_ms_per_request']:.2f} "
                         f"| {r['floor_ratio_cpu']:.2f} |")
    lines += ["", "order-sign with 1 connection (service time, no queueing): " + "; ".join(
        f"{db['database']} p50 {db['order_sign_one_connection']['p50_ms']:.1f} ms, p99 "
        f"{db['order_sign_one_connection']['p99_ms']:.1f} ms, {db['order_sign_one_connection']['rps']:.0f} req/s"
        for db in result["databases"] if db.get("order_sign_one_connection"))]
    lines += ["", "× floor = req/s ÷ the floor's req/s in the same run; × floor (CPU) = the floor's server CPU "
              "time per request ÷ the workload's (what the service's own work costs, whatever else runs on "
              "the machine)."]
    lines += ["", "Peak RSS per worker (VmHWM, MB): " + "; ".join(
        f"{db['database']} {', '.join(f'{x:.0f}' for x in db['peak_rss_mb'])}" for db in result["databases"])]
    if result.get("worker_curve"):
        lines += ["", "### order-sign throughput vs gunicorn workers (one PostgreSQL)", "",
                  "| workers | req/s | p50 ms | p99 ms | errors | peak RSS MB |", "|---|---|---|---|---|---|"]
        for r in result["worker_curve"]:
            lines.append(f"| {r['workers']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} "
                         f"| {max(r['peak_rss_mb'] or [0]):.0f} |")
    if result.get("scaling"):
        lines += ["", scaling.markdown(result["scaling"])]
    ab = result.get("ab")
    if ab:
        lines += ["", f"### A/B of the last change: in-process CPU ms per request (benchmarks/cpu_ab.py, "
                      f"median of {ab['rounds']} interleaved runs, n={ab['n']})", "",
                  f"| workload | {ab['base']} | this tree | change |", "|---|---|---|---|"]
        for kind, before in ab["median_cpu_ms"]["base"].items():
            after = ab["median_cpu_ms"]["this"][kind]
            lines.append(f"| {kind} | {before:.2f} | {after:.2f} | {(after - before) / before:+.0%} |")
    lines += ["", "### Targets", "", "| target | measured | met |", "|---|---|---|"]
    for c in result["targets"]:
        lines.append(f"| {c['target']} | {c['measured']} | {'yes' if c['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per workload instead of 12 s")
    parser.add_argument("--duration", type=float, default=None, help="seconds per workload")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn workers (default: cores)")
    parser.add_argument("--worker-threads", type=int, default=SERVE_THREADS,
                        help="threads per gunicorn worker; > 1 runs gthread workers "
                             f"(default {SERVE_THREADS}, as `oncopath serve`)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--worker-counts", default="1,2,4", help="worker curve on PostgreSQL ('' to skip)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the in-process scaling curves")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--ab", default="HEAD~1", help="in-process CPU A/B against this git revision ('' skips it)")
    parser.add_argument("--ab-requests", type=int, default=None, help="requests of each kind per A/B run "
                                                                       "(default 150, 40 with --quick)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated subset of the workloads (the floor always runs)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 12.0)
    args.warmup = 1.0 if args.quick else 3.0
    args.worker_counts = [int(x) for x in args.worker_counts.split(",") if x.strip()]
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    started = datetime.now(timezone.utc)
    run_id = started.strftime("%Y%m%dT%H%M%S")
    result: dict = {"started": started.isoformat(timespec="seconds"), "workers": args.workers,
                    "worker_threads": args.worker_threads,
                    "connections": args.connections, "threads": args.threads, "duration": args.duration,
                    "environment": {"cores": os.cpu_count(), "python": platform.python_version(),
                                    "load_before": _load()},
                    "databases": []}
    databases = {"sqlite": SqliteDatabase, "postgresql": PostgresDatabase}
    with tempfile.TemporaryDirectory(prefix="oncopath-bench-") as tmpdir:
        tmp = Path(tmpdir)
        files = write_bodies(tmp)
        for name in [d.strip() for d in args.databases.split(",") if d.strip()]:
            with databases[name]() as db:
                result["databases"].append(bench_database(db, args, files, tmp, run_id))
                if name == "postgresql" and args.worker_counts:
                    result["worker_curve"] = worker_curve(db, args, files, tmp, run_id)
    if not args.no_scaling:
        from benchmarks import scaling
        print("  in-process scaling curves ...", flush=True)
        try:
            result["scaling"] = scaling.run(args.quick)
        except Exception as exc:   # keep the HTTP results of this run whatever happens here
            result["scaling_error"] = f"{type(exc).__name__}: {exc}"
            print(f"  scaling curves failed: {result['scaling_error']}", file=sys.stderr)
    if args.ab:
        print(f"  in-process CPU A/B against {args.ab} ...", flush=True)
        try:
            result["ab"] = ab_last_change(args.ab, args.ab_requests or (40 if args.quick else 150))
        except (subprocess.CalledProcessError, OSError) as exc:
            result["ab_error"] = f"{type(exc).__name__}: {exc}"
            print(f"  A/B failed: {result['ab_error']}", file=sys.stderr)
    result["environment"]["load_after"] = _load()
    result["targets"] = evaluate(result)

    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(result)
    stem = f"bench-{run_id}{'-quick' if args.quick else ''}"
    for name in (stem, "latest"):
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / f"{name}.md").write_text(text)
    print()
    print(text)
    print(f"results: {args.out / (stem + '.json')} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
