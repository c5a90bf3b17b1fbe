"""Operational metrics (Prometheus), without PHI: labels are routes (the URL rule, never the
path with its ids), statuses, program reason codes and outcome classes, each from a closed set.

Under gunicorn (`oncopath serve`) every worker writes its counters to files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode; the command creates that
directory per start, removes it at exit, and marks an exited worker dead), and a scrape sums
them over the workers, whichever worker (or the master's metrics port) answers. Without that
variable (tests, `--dev`) the metrics live in this process.

The two gauges (pended cases, overdue pended cases) are not kept in any process: they are
counted from the store when scraped (`StoreGauges`), one COUNT over the cases' status column.

No Flask here: the store, the engine's callers, the FHIR fetcher and the notification worker
record into it; server/http/metrics.py serves it.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

REQUESTS = Histogram("oncopath_http_request_duration_seconds",
                     "Time to answer an HTTP request (wall clock, in the worker), by URL rule, method and status",
                     ["route", "method", "status"], buckets=_LATENCY_BUCKETS)
DECISIONS = Counter("oncopath_decisions",
                    "Decisions stored (new cases and updates; a retry answered from file is not one), by door, "
                    "case status and pathway match: on (an eligible pathway regimen), off (in the program, no "
                    "eligible regimen), none (not in the program)",
                    ["door", "status", "pathway"])
PEND_REASONS = Counter("oncopath_pend_reasons", "Reasons a stored decision was pended for review, by reason code",
                       ["code"])
DB_SECONDS = Histogram("oncopath_db_duration_seconds",
                       "Database time: each statement by its verb, and each commit", ["operation"],
                       buckets=_DB_BUCKETS)
FHIR_FETCH_SECONDS = Histogram("oncopath_fhir_fetch_duration_seconds",
                               "Outbound reads of the EHR's fhirServer (missing prefetch), by outcome",
                               ["outcome"], buckets=_LATENCY_BUCKETS)
FHIR_FETCH_FAILURES = Counter("oncopath_fhir_fetch_failures", "Outbound fhirServer reads that failed, by class",
                              ["reason"])
NOTIFICATIONS = Counter("oncopath_notification_attempts",
                        "Subscription notification attempts: delivered, retry (failed, another attempt is due) "
                        "or failed (failed for the last time)", ["outcome"])

_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_VERBS = frozenset({"select", "insert", "update", "delete", "with", "begin", "pragma"})


def pathway_label(decision) -> str:
    if decision.on_pathway:
        return "on"
    return "off" if decision.in_program else "none"


def record_decision(decision, door: str) -> None:
    """One stored decision: its case status, pathway match and pend reason codes."""
    DECISIONS.labels(door, decision.case_status.value, pathway_label(decision)).inc()
    for reason in decision.pend_reasons:
        code = reason.code if _CODE.fullmatch(reason.code or "") else "other"
        PEND_REASONS.labels(code).inc()


def fetch_failure_class(error: str) -> str:
    """The fetcher's error text, reduced to a closed set (it may name a host, never a patient)."""
    text = (error or "").lower()
    if text.startswith("http "):
        return "http-" + text[5:8]
    for key, label in (("timeout", "timeout"), ("timed out", "timeout"), ("larger than", "too-large"),
                       ("not json", "not-json"), ("connection", "connection"), ("operationoutcome", "outcome"),
                       ("not a fhir", "not-fhir"), ("outside fhirserver", "foreign-link"), ("address", "refused"),
                       ("not allowed", "refused"), ("redirect", "refused")):
        if key in text:
            return label
    return "other"


def record_fetch(seconds: float, error: str | None) -> None:
    FHIR_FETCH_SECONDS.labels("error" if error else "ok").observe(seconds)
    if error:
        FHIR_FETCH_FAILURES.labels(fetch_failure_class(error)).inc()


def instrument_engine(engine) -> None:
    """Time every statement (by verb) and every commit of this SQLAlchemy engine."""
    from sqlalchemy import event

    if getattr(engine, "_oncopath_timed", False):
        return
    engine._oncopath_timed = True
    clock = time.perf_counter

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info["oncopath.t0"] = clock()

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn, cursor, statement, parameters, context, executemany):
        t0 = conn.info.pop("oncopath.t0", None)
        if t0 is not None:
            verb = statement.lstrip()[:7].split(None, 1)[0].lower() if statement else "other"
            DB_SECONDS.labels(verb if verb in _VERBS else "other").observe(clock() - t0)

    dialect = engine.dialect
    do_commit = dialect.do_commit

    def timed_commit(dbapi_connection):
        t0 = clock()
        try:
            do_commit(dbapi_connection)
        finally:
            DB_SECONDS.labels("commit").observe(clock() - t0)

    dialect.do_commit = timed_commit


class StoreGauges:
    """Pended cases and overdue pended cases, counted from the store at scrape time."""

    def __init__(self, engine_factory: Callable, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._engine = engine_factory
        self._now = now

    def describe(self):
        return []

    def collect(self):
        from sqlalchemy import case, func, select

        from server.store.models import CaseRow

        now = self._now().astimezone(timezone.utc)
        overdue = func.sum(case((CaseRow.due_by < now, 1), else_=0))
        stmt = select(func.count(), overdue).where(CaseRow.status == "In Progress")
        try:
            with self._engine().connect() as conn:
                pended, late = conn.execute(stmt).one()
        except Exception:          # a scrape must not fail because the database is away
            up = GaugeMetricFamily("oncopath_store_up", "1 if the store answered the scrape's count")
            up.add_metric([], 0)
            yield up
            return
        queue = GaugeMetricFamily("oncopath_pended_cases", "Cases in review (In Progress): the reviewers' queue")
        queue.add_metric([], pended or 0)
        yield queue
        over = GaugeMetricFamily("oncopath_overdue_pended_cases", "Cases in review past their due-by time")
        over.add_metric([], late or 0)
        yield over
        up = GaugeMetricFamily("oncopath_store_up", "1 if the store answered the scrape's count")
        up.add_metric([], 1)
        yield up


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(gauges: StoreGauges | None = None) -> bytes:
    """The Prometheus text of every metric: summed over the workers in multiprocess mode."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in (REQUESTS, DECISIONS, PEND_REASONS, DB_SECONDS, FHIR_FETCH_SECONDS, FHIR_FETCH_FAILURES,
                          NOTIFICATIONS):
            registry.register(_Forward(collector))
    if gauges is not None:
        registry.register(gauges)
    return generate_latest(registry)


class _Forward:
    """A registered collector seen through another registry (single-process mode)."""

    def __init__(self, collector):
        self._collector = collector

    def describe(self):
        return []

    def collect(self):
        return self._collector.collect()


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit: the dead worker's live gauges go; its counters stay summed."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# -- `oncopath serve` -------------------------------------------------------------------------

def serve_separately(host: str, port: int, database_url: str) -> None:
    """`--metrics-port`: the workers' summed metrics plus the store gauges on host:port, from a
    thread of the gunicorn master. Its engine keeps no connection between scrapes (NullPool), so
    nothing of it is open when the master forks a worker."""
    from prometheus_client import multiprocess, start_http_server
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from server.store.db import normalize_url

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    engine = create_engine(normalize_url(database_url), poolclass=NullPool)
    registry.register(StoreGauges(lambda: engine))
    start_http_server(port, addr=host, registry=registry)
