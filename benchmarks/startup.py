"""Start-up cost of one worker: time to build the app (loading and indexing the knowledge base)
and the resident memory it then holds. Prints figures; run `python -m benchmarks.startup`.

Each run is a fresh interpreter (a worker's start), repeated; the minimum is the figure to
compare (README › Knowledge base reports it before and after the knowledge base grows)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

PROBE = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
from server.app import create_app
app = create_app()
t1 = time.perf_counter()
from server.knowledge.loader import load_knowledge
load_knowledge.cache_clear()
t2 = time.perf_counter(); kb = load_knowledge(); t3 = time.perf_counter()
print(json.dumps({"create_app_s": t1 - t0, "kb_load_s": t3 - t2,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "regimens": sum(len(p.regimens) for p in kb.pathways)}))
"""


def main(runs: int = 5) -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, ONCOPATH_DATABASE_URL=f"sqlite:///{tmp}/startup.db",
                   ONCOPATH_CDS_JWT_REQUIRED="0", ONCOPATH_FHIR_AUTH_REQUIRED="0")
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = {k: min(r[k] for r in results) for k in ("create_app_s", "kb_load_s", "rss_mib")}
    print(f"regimens {results[0]['regimens']}  runs {runs}")
    print(f"worker start (create_app) min {best['create_app_s'] * 1000:.0f} ms")
    print(f"knowledge base load       min {best['kb_load_s'] * 1000:.0f} ms")
    print(f"max RSS after start       min {best['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
