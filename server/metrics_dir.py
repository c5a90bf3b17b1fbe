"""PROMETHEUS_MULTIPROC_DIR for `oncopath serve`. Its own module, importing nothing of
prometheus_client: the variable must be set before that library is first imported (it picks
its value store at import time)."""
from __future__ import annotations

import os

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> tuple[str, bool]:
    """Before gunicorn starts (and before prometheus_client is imported): a fresh directory for
    the workers' metric files. The operator's PROMETHEUS_MULTIPROC_DIR is emptied of an earlier
    run's files; otherwise a temporary one is made. Returns (path, made here: remove at exit)."""
    import tempfile
    from pathlib import Path

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return str(path), False
    path = tempfile.mkdtemp(prefix="oncopath-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path, True
