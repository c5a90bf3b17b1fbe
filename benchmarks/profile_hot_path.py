"""Where the CPU of one request goes: order-sign or Claim/$submit, in process, grouped by package.

    .venv/bin/python -m benchmarks.profile_hot_path [order-sign|submit] [-n 300]
        [--database-url URL] [--pyinstrument]

Runs N requests through the Flask test client (JWT off; a new case each time) under cProfile
with a CPU clock, then prints the CPU share of each package (fhir_core/pydantic = FHIR
validation, sqlalchemy = the store, server/..., mappings/..., cards/...) and the top functions
by cumulative time. `--pyinstrument` prints pyinstrument's call tree instead (pip install
'oncopath[bench]'). Profiling slows everything down: read shares, not milliseconds.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import tempfile
import time
from collections import defaultdict

from benchmarks import workloads as wl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _group(filename: str, name: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    if filename.startswith(REPO + "/"):
        return "/".join(filename[len(REPO) + 1:].split("/")[:2])
    if filename == "~":   # C functions, e.g. pydantic-core's SchemaValidator.validate_python
        m = re.match(r"<method '(\w+)' of '([\w.]+)' objects>", name)
        if m:
            return f"C {m.group(2).rsplit('.', 1)[-1]}.{m.group(1)}"
        return "C " + name.strip("<>").replace("built-in method ", "")
    return "stdlib " + os.path.basename(filename)


def grouped(profile: cProfile.Profile, n: int, top: int = 25) -> str:
    groups: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in pstats.Stats(profile).stats.items():
        groups[_group(filename, name)] += tottime
    total = sum(groups.values()) or 1.0
    lines = [f"{'package / module':52s} {'share':>6s}"]
    for group, spent in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{group:52s} {spent / total:6.1%}")
    lines.append(f"(profiled CPU: {total / n * 1000:.1f} ms per request, inflated by the profiler)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="order-sign", choices=["order-sign", "submit"])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temp directory")
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args(argv)

    from server.app import create_app
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": args.database_url or f"sqlite:///{tmp}/profile.db",
                          "CDS_JWT_REQUIRED": False, "PUBLIC_BASE_URL": "https://oncopath.example.org"})
        client = app.test_client()
        if args.workload == "order-sign":
            path, templates = wl.SIGN_PATH, [wl.order_sign(mix) for mix in wl.ORDER_SIGN_MIXES]
        else:
            path, templates = wl.SUBMIT_PATH, [wl.pas_submit()]
        texts = [wl.body_bytes(t).decode() for t in templates]
        stamp = f"profile-{time.time_ns()}"
        bodies = [texts[i % len(texts)].replace(wl.UNIQ, f"{stamp}-{i}").encode() for i in range(args.n + 30)]

        def post(body: bytes) -> None:
            resp = client.post(path, data=body, content_type="application/json")
            if resp.status_code != 200:
                raise SystemExit(f"unexpected {resp.status_code}: {resp.get_data(as_text=True)[:300]}")
        for body in bodies[:30]:
            post(body)
        if args.pyinstrument:
            from pyinstrument import Profiler
            profiler = Profiler(interval=0.0005)
            profiler.start()
            for body in bodies[30:]:
                post(body)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False))
        else:
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for body in bodies[30:]:
                post(body)
            profile.disable()
            print(f"{args.workload}: CPU by package over {args.n} requests")
            print(grouped(profile, args.n))
            print()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(r"oncopath|/work/|mappings|server|cards", 30)
        app.extensions["oncopath.store"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
