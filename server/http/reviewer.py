"""Reviewer API at /review/api (JSON). Every route needs a bearer token from
`POST /review/api/token` (username + password); no token ⇒ 401 OperationOutcome.

Routes:
- `POST /review/api/token` {username, password} ⇒ {access_token, token_type, expires_at, role}
- `GET  /review/api/queue` ⇒ pended cases, overdue and urgent first, physician escalation flag
- `GET  /review/api/cases/<order_id>` ⇒ inputs (order), decision with trace, review state,
  history (events, review actions, audit), allowed actions for this reviewer
- `POST /review/api/cases/<order_id>/actions/<action>` with JSON params, action one of
  request-information {information}, peer-to-peer-offered {note}, peer-to-peer-held {note},
  approve {drugs?: [ref], quantities?: {ref: units}}, deny {reason, drugs?} (physician only),
  cancel-duplicate {note, duplicate_of?}, reconsideration {note}
  ⇒ the case view after the action (409 on an invalid transition, 403 nurse denying)
- `GET  /review/api/metrics?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]` (CMS-0057-F)

This module also wires the review extension (`app.extensions["oncopath.review"]`: the
ReviewService) and the notification worker thread (off under TESTING unless NOTIFY_WORKER),
whose tick also runs the deadline sweep (server/review/deadlines.py).
"""
from __future__ import annotations

import math
from datetime import date, datetime, timezone

from flask import Blueprint, Flask, current_app, g, jsonify, request

from server.errors import BadRequest, Issue, Unauthorized
from server.http.body import json_object, now
from server.review import deadlines, metrics
from server.review.service import Actor, ReviewService
from server.review.workflow import Action
from server.store.extension import get_store
from server.store.review import ReviewStore
from server.security import throttle

EXTENSION_KEY = "oncopath.review"
WORKER_KEY = "oncopath.notify.worker"

bp = Blueprint("reviewer_api", __name__, url_prefix="/review/api")


def get_review(app: Flask | None = None) -> ReviewService:
    return (app or current_app).extensions[EXTENSION_KEY]


def _json_body() -> dict:
    body = json_object(empty={})
    if not _finite_numbers(body):
        raise BadRequest(Issue("value", "numbers must be finite (no NaN, Infinity or overflowing values)"))
    return body


def _finite_numbers(value, depth: int = 0) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 8:
        return True
    if isinstance(value, dict):
        return all(_finite_numbers(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v, depth + 1) for v in value)
    if isinstance(value, str) and value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return False
    return True


def bearer_actor() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(Issue("login", "a reviewer bearer token is required (POST /review/api/token)"))
    reviewer = get_review().reviewer_for_token(token.strip(), now())
    if reviewer is None:
        raise Unauthorized(Issue("login", "the bearer token is unknown or expired"))
    return Actor.of(reviewer)


@bp.before_request
def _authenticate():
    if request.endpoint == "reviewer_api.token":
        return None
    g.reviewer = bearer_actor()
    return None


@bp.post("/token")
def token():
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    body = body if isinstance(body, dict) else {}
    for key in ("username", "password"):
        if not isinstance(body.get(key, ""), str):   # a list or number here was a 500 (fuzzing)
            raise BadRequest(Issue("structure", f"{key} must be a string", expression=[key]))
    service = get_review()
    reviewer = throttle.authenticate(service, body.get("username"), body.get("password"))
    token, expires = service.issue_token(reviewer, now())
    resp = jsonify({"access_token": token, "token_type": "Bearer", "expires_at": expires.isoformat(),
                    "role": reviewer.role})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/queue")
def queue():
    return jsonify({"cases": get_review().queue(now())})


@bp.get("/cases/<order_id>")
def case(order_id: str):
    return jsonify(get_review().case_view(order_id, now(), g.reviewer.role))


@bp.post("/cases/<order_id>/actions/<action>")
def act(order_id: str, action: str):
    try:
        chosen = Action(action)
    except ValueError:
        raise BadRequest(Issue("not-supported", f"unknown action {action!r}; one of "
                               + ", ".join(a.value for a in Action if a is not Action.ESCALATE)))
    service = get_review()
    at = now()
    service.act(order_id, chosen, g.reviewer, _json_body(), at)
    return jsonify(service.case_view(order_id, at, g.reviewer.role))


def _day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(Issue("value", f"{value!r} is not a date (YYYY-MM-DD)"))


EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
MAX_PERIOD_DAYS = 10 * 366


def metrics_period() -> tuple[date, date]:
    """The period asked for, bounded: both days in 2000-2100 and at most ten years apart."""
    today = now().date()
    start = _day(request.args.get("from"), today.replace(month=1, day=1))
    end = _day(request.args.get("to"), today)
    if end < start:
        raise BadRequest(Issue("value", "'to' is before 'from'"))
    if start < EARLIEST_DAY or end > LATEST_DAY:
        raise BadRequest(Issue("value", f"the period must lie between {EARLIEST_DAY} and {LATEST_DAY}"))
    if (end - start).days > MAX_PERIOD_DAYS:
        raise BadRequest(Issue("value", "the period may span at most ten years"))
    return start, end


@bp.get("/metrics")
def program_metrics():
    start, end = metrics_period()
    report = metrics.compute(get_review(), start, end)
    if request.args.get("format") == "csv":
        resp = current_app.response_class(metrics.to_csv(report), mimetype="text/csv")
        resp.headers["Content-Disposition"] = f"attachment; filename=pa-metrics-{start}-{end}.csv"
        return resp
    return jsonify(report)


def init_app(app: Flask) -> None:
    cases = get_store(app)
    reviews = ReviewStore(cases)
    service = ReviewService(cases, reviews, app.extensions.get("oncopath.knowledge"),
                            base_url=app.config.get("PUBLIC_BASE_URL"))
    app.extensions[EXTENSION_KEY] = service
    run_worker = app.config.get("NOTIFY_WORKER")
    if run_worker is None:
        run_worker = not app.config.get("TESTING")
    if run_worker:
        from server.notify.delivery import NotificationWorker

        from server.security.outbound import OutboundPolicy

        worker = NotificationWorker(reviews, interval=float(app.config.get("NOTIFY_INTERVAL", 5.0)),
                                    sweep=lambda at: deadlines.sweep_overdue(reviews, at),
                                    policy=OutboundPolicy(app.config.get("OUTBOUND_ALLOWED_NETWORKS") or ())).start()
        app.extensions[WORKER_KEY] = worker
        service.on_notify = worker.wake
    app.register_blueprint(bp)
