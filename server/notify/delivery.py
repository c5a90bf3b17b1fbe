"""Outbox delivery: POST due notifications to their rest-hook endpoints.

`deliver_pending(store, now)` is the whole algorithm (deterministic: the caller gives `now`
and may give `post`); `NotificationWorker` is a daemon thread that calls it every few
seconds, or at once when woken after a decision. A failing endpoint only ever costs its own
notification retries: the decision that produced it was committed before.

Retries: after attempt n fails (network error or non-2xx), the next one is due
`BACKOFF_BASE * 2**(n-1)` later; after MAX_ATTEMPTS the notification is `failed` (kept, with
every attempt in `deliveries`).

Outbound rules (server/security/outbound.py): the endpoint must resolve to public addresses
(or OUTBOUND_ALLOWED_NETWORKS), redirects are not followed (a 3xx is a failed attempt: the
body never goes where the Subscription did not name), and TIMEOUT_SECONDS bounds the whole
exchange.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import requests

from server import metrics
from server.security import outbound

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=10)
MAX_ATTEMPTS = 6
LEASE = timedelta(seconds=60)
TIMEOUT_SECONDS = 5.0


def backoff(attempt: int) -> timedelta:
    """Delay before the attempt after `attempt` failed ones (1-based)."""
    return BACKOFF_BASE * (2 ** (attempt - 1))


def make_post(policy: outbound.OutboundPolicy | None = None) -> Callable:
    """A `post(url, body, timeout)` that keeps to the outbound rules of `policy`."""
    policy = policy or outbound.OutboundPolicy()
    session = outbound.session(policy)

    def post(url: str, body: bytes, timeout: float):
        return outbound.request(session, "POST", url, timeout=timeout, policy=policy, data=body,
                                headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
                                read=lambda resp, _deadline: resp, follow_redirects=False)
    return post


_post = make_post()


def deliver_pending(store, now: datetime, *, post: Callable = _post, timeout: float = TIMEOUT_SECONDS,
                    limit: int = 20) -> dict[str, int]:
    """Send every notification due at `now`; returns counts {delivered, retry, failed}."""
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for note in store.claim_due_notifications(now, lease=LEASE, limit=limit):
        body = json.dumps(note.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        status_code, error = None, None
        try:
            resp = post(note.endpoint, body, timeout)
            status_code = resp.status_code
            ok = 200 <= status_code < 300
            if not ok:
                error = f"HTTP {status_code}"
        except outbound.OutboundError as exc:
            ok, error = False, exc.reason
        except requests.RequestException as exc:
            ok, error = False, type(exc).__name__
        attempt = note.attempts + 1
        if ok:
            counts["delivered"] += 1
            next_at = None
        elif attempt >= MAX_ATTEMPTS:
            counts["failed"] += 1
            next_at = None
            log.warning("notification %s for case %s failed after %d attempts", note.id, note.order_id, attempt)
        else:
            counts["retry"] += 1
            next_at = now + backoff(attempt)
        store.record_attempt(note.id, at=now, ok=ok, status_code=status_code, error=error, next_attempt_at=next_at)
        metrics.NOTIFICATIONS.labels("delivered" if ok else ("retry" if next_at else "failed")).inc()
    return counts


class NotificationWorker:
    """A daemon thread draining the outbox; `wake()` after a decision sends without waiting.
    `sweep(now)`, when given, runs on the same tick at most every `sweep_interval` seconds
    (the review deadline sweep: server/review/deadlines.sweep_overdue)."""

    def __init__(self, store, *, interval: float = 5.0, clock: Callable[[], datetime] | None = None,
                 sweep: Callable[[datetime], object] | None = None, sweep_interval: float = 60.0,
                 policy: outbound.OutboundPolicy | None = None):
        self.store = store
        self.post = make_post(policy)
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.sweep = sweep
        self.sweep_interval = timedelta(seconds=sweep_interval)
        self._swept_at: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "NotificationWorker":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="oncopath-notify", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            if self.sweep is not None and (self._swept_at is None or now - self._swept_at >= self.sweep_interval):
                self._swept_at = now
                try:
                    self.sweep(now)
                except Exception:   # the worker must outlive a database hiccup
                    log.exception("deadline sweep failed")
            try:
                deliver_pending(self.store, now, post=self.post)
            except Exception:   # the worker must outlive a database hiccup
                log.exception("notification delivery round failed")
            self._wake.wait(self.interval)
            self._wake.clear()
