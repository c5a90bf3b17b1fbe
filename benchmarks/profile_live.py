"""Where a served request's time goes: py-spy samples the gunicorn workers while wrk drives them.

    .venv/bin/python -m benchmarks.profile_live [order-sign|submit|inquire|floor]
        [--database sqlite|postgresql] [--duration S] [--rate HZ] [--save stacks.txt]
    (py-spy: .venv/bin/pip install -e '.[bench]')

Unlike `profile_hot_path` (cProfile, in process, through Flask's test client), this measures the
real server: gunicorn's HTTP parsing, the access log, the database driver and commit, with no
profiler overhead in the process itself (py-spy reads it from outside). Each sample is one stack
of a worker thread that is handling a request; the table gives, per phase, the share of those
samples whose stack passes through it (phases nest: `map` is part of `handle`), then the self
time by package. Shares, not milliseconds: they hold however busy the machine is.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import run as bench
from benchmarks import workloads as wl

# (phase, a regular expression on the collapsed stack). Order = how the table lists them.
PHASES: tuple[tuple[str, str], ...] = (
    ("gunicorn: read and parse HTTP", r"gunicorn/http/"),
    ("request limits (size, depth)", r"server/http/limits\.py"),
    ("parse JSON body", r"get_json"),
    ("handle (everything below)", r"handle_call \(|claim_submit\.py|claim_inquire\.py"),
    ("  PAS Bundle checks", r"pas_checks\.py"),
    ("  map FHIR -> Order", r"order_from_resources|order_from_pas_bundle"),
    # pydantic-core runs in Rust, so its time lands on the `parse` frame itself (a leaf).
    ("    structure validation", r"parse \(mappings/fhir\.py:\d+\)($|;.*(fhir_core|_ElementRules))|_model_issues"),
    ("  member history", r"history_for_member"),
    ("  decide", r"engine/decide\.py"),
    ("  store the case", r"save_case"),
    ("    commit", r"do_commit|_commit_impl"),
    ("  render cards / ClaimResponse", r"\(cards/|pas_response\.py"),
    ("encode the response (jsonify)", r"jsonify"),
    ("access log", r"glogging"),
)
IN_REQUEST = re.compile(r"handle_request")
_FRAME_FILE = re.compile(r"\(([^():]+)(?::\d+)?\)$")


def summarize(collapsed: str) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """py-spy's raw (collapsed) output -> (request samples, [(phase, share)], [(package, self share)])."""
    phases: Counter = Counter()
    packages: Counter = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit() or not IN_REQUEST.search(stack):
            continue   # idle workers, the notification thread, start-up
        n = int(count)
        total += n
        for name, pattern in PHASES:
            if re.search(pattern, stack):
                phases[name] += n
        packages[_package(stack.rsplit(";", 1)[-1])] += n
    share = (lambda c: c / total) if total else (lambda c: 0.0)
    return (total, [(name, share(phases[name])) for name, _ in PHASES],
            [(pkg, share(c)) for pkg, c in packages.most_common(15)])


def _package(frame: str) -> str:
    m = _FRAME_FILE.search(frame)
    path = m.group(1) if m else frame
    path = path.split("site-packages/")[-1]
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 1 else path


def render(workload: str, database: str, total: int, phases, packages, result: dict) -> str:
    lines = [f"### {workload} on {database}: {result['rps']:.0f} req/s, {result['server_cpu_ms_per_request']} ms "
             f"server CPU per request, {total} request samples", "",
             "| phase | share of request time |", "|---|---|"]
    lines += [f"| {_indent(name)} | {s:.1%} |" for name, s in phases]
    lines += ["", "| self time in | share |", "|---|---|"]
    lines += [f"| {pkg} | {s:.1%} |" for pkg, s in packages]
    return "\n".join(lines)


def _indent(name: str) -> str:
    """Nested phases as '· map', '· · commit' (markdown drops leading spaces)."""
    depth = (len(name) - len(name.lstrip(" "))) // 2
    return "· " * depth + name.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="order-sign", choices=["order-sign", "submit", "inquire", "floor"])
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", type=Path, default=None,
                        help="also write the collapsed stacks here (input for flamegraph tools)")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is needed: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="oncopath-spy-"))
    files = bench.write_bodies(tmp)
    path = {"order-sign": wl.SIGN_PATH, "submit": wl.SUBMIT_PATH, "inquire": wl.INQUIRE_PATH,
            "floor": wl.FLOOR_PATH}[args.workload]
    db_class = bench.SqliteDatabase if args.database == "sqlite" else bench.PostgresDatabase
    with db_class() as db:
        bench.migrate(db.url)
        server = bench.Server(db.url, args.workers, tmp)
        try:
            bench.preflight(server, f"spy{time.time_ns()}")   # also seeds the inquiry's case
            bench.run_wrk(server, path, files[args.workload], duration=2, connections=16, threads=2,
                          run_id=f"spy-warm{time.time_ns()}", out=tmp / "warm.json")
            outs = [tmp / f"spy-{pid}.txt" for pid in server.worker_pids()]
            spies = [subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", f"{args.duration + 1:g}",
                                       "--rate", str(args.rate), "--format", "raw", "--output", str(out)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for pid, out in zip(server.worker_pids(), outs)]
            time.sleep(0.5)
            result = bench.run_wrk(server, path, files[args.workload], duration=args.duration, connections=16,
                                   threads=2, run_id=f"spy{time.time_ns()}", out=tmp / "load.json")
            for s in spies:
                s.wait()
        finally:
            server.stop()
    collapsed = "\n".join(out.read_text() for out in outs if out.exists())
    if args.save:
        args.save.write_text(collapsed)
    total, phases, packages = summarize(collapsed)
    print(render(args.workload, args.database, total, phases, packages, result))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main())
