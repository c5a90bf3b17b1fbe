"""Two processes released together on one barrier: how the idempotency tests race a store."""
from __future__ import annotations

import multiprocessing as mp


def race_two(target, url: str, *, timeout: float = 60) -> list:
    """Run `target(url, barrier, results)` in two forked processes that start their write at the
    same instant; return what each put on `results`, after checking both exited cleanly."""
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=target, args=(url, barrier, results)) for _ in range(2)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=timeout) for _ in workers]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    return outcomes
