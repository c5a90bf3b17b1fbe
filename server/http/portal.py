"""The portal (server-rendered, works without JavaScript) at /portal.

Provider side (no account; Order ID + the submitting provider's NPI):
- `GET /portal/` home; `GET /portal/status?order_id=&npi=` case status, drug statuses and a
  link to the printable order summary (`/orders/<id>/summary?npi=`).

Reviewer side (Flask session cookie after `POST /portal/login`):
- `GET /portal/review/` queue (overdue and urgent first, oldest due first);
- `GET /portal/review/cases/<id>` inputs, decision trace, history and the action forms the
  reviewer's role allows now; `POST /portal/review/cases/<id>/<action>` applies one;
- `GET /portal/review/metrics` CMS-0057-F figures with a server-side SVG chart.

Every POST form carries the session's CSRF token (`csrf_token`); a missing or wrong one is a
400. SECRET_KEY: config `SECRET_KEY` or env `ONCOPATH_SECRET_KEY`; without either, outside
TESTING/DEV, a random key is generated per process (sessions end at restart and are not shared
between gunicorn workers) and a warning is logged — set one in production.
"""
from __future__ import annotations

import hmac
import logging
import math
import os
import secrets
from functools import wraps

from flask import (Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)

from server.errors import Issue, NotFound, ServiceError
from server.http.errors import audit_refusal
from server.http.reviewer import get_review, metrics_period, now
from server.http.summary import summary_for
from server.review import metrics
from server.review.service import Actor
from server.review.workflow import Action, Role
from server.security import sessions, throttle

log = logging.getLogger(__name__)
# Templates and static files are the app's own (server/templates, server/static at /static).
bp = Blueprint("portal", __name__, url_prefix="/portal")

ACTION_LABELS = {
    Action.REQUEST_INFORMATION.value: "Request information",
    Action.PEER_TO_PEER_OFFERED.value: "Record peer-to-peer offered",
    Action.PEER_TO_PEER_HELD.value: "Record peer-to-peer held",
    Action.APPROVE.value: "Approve",
    Action.DENY.value: "Deny",
    Action.CANCEL_DUPLICATE.value: "Cancel as duplicate",
    Action.RECONSIDERATION.value: "Open reconsideration",
}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_request
def _csrf_protect():
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf")
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, description="the form's CSRF token is missing or wrong: reload the page and try again")
    reviewer = None
    rid = sessions.reviewer_id()
    if rid is not None:
        reviewer = get_review().reviews.reviewer_by_id(rid)
        if reviewer is not None and not reviewer.active:
            reviewer = None
    g.portal_reviewer = reviewer
    return None


@bp.app_context_processor
def _template_globals():
    return {"csrf_token": csrf_token, "current_reviewer": getattr(g, "portal_reviewer", None),
            "action_labels": ACTION_LABELS}


def reviewer_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.portal_reviewer is None:
            return redirect(url_for("portal.login", next=request.path))
        return view(*args, **kwargs)
    return wrapped


@bp.get("/")
def home():
    return render_template("home.html")


def _provider_case(order_id: str, npi: str):
    """The case, if `npi` is its submitting provider's; None otherwise (audited if on file)."""
    record = get_review().cases.get_case(order_id) if order_id and len(order_id) <= 64 else None
    if record is None or not npi or record.provider_npi != npi:
        if record is not None:   # on file, but not this provider's: audited, answered as unknown
            audit_refusal(404, "case status refused: the NPI given is not the submitting provider's")
        return None
    return record


@bp.get("/status/summary")
def status_summary():
    """The printable summary for the person who checked the status (same rule as the status
    page: Order ID + the submitting provider's NPI). The machine API at /orders/<id>/summary
    takes client tokens."""
    order_id = (request.args.get("order_id") or "").strip().upper()
    npi = (request.args.get("npi") or "").strip()
    record = _provider_case(order_id, npi)
    if record is None:
        return render_template("status.html", summary=None, order_id=order_id, npi=npi,
                               error="No order was found for this Order ID and provider NPI."), 404
    return render_template("summary.html", s=summary_for(record), npi=npi)


@bp.get("/status")
def status():
    order_id = (request.args.get("order_id") or "").strip().upper()
    npi = (request.args.get("npi") or "").strip()
    if not order_id and not npi:
        return render_template("status.html", summary=None, order_id="", npi="")
    record = get_review().cases.get_case(order_id) if order_id and len(order_id) <= 64 else None
    if record is None or not npi or record.provider_npi != npi:
        if record is not None:   # on file, but not this provider's: audited, answered as unknown
            audit_refusal(404, "case status refused: the NPI given is not the submitting provider's")
        # Same answer for unknown and not-yours: an Order ID alone reveals nothing.
        return render_template("status.html", summary=None, order_id=order_id, npi=npi,
                               error="No order was found for this Order ID and provider NPI."), 404
    return render_template("status.html", summary=summary_for(record), order_id=order_id, npi=npi)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    status = 200
    if request.method == "POST":
        try:
            reviewer = throttle.authenticate(get_review(), request.form.get("username"), request.form.get("password"))
        except throttle.TooManyRequests:
            error, status = "Too many failed sign-ins: wait a few minutes and try again.", 429
            audit_refusal(429, "portal sign-in throttled")
        except ServiceError:
            error, status = "Unknown reviewer or wrong password.", 401
            audit_refusal(401, "portal sign-in refused: unknown reviewer or wrong password")
        else:
            sessions.start(reviewer.id)
            csrf_token()
            target = request.args.get("next") or ""
            if not target.startswith("/portal/") or target.startswith("//"):
                target = url_for("portal.queue")
            return redirect(target)
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    sessions.end()   # the session row is deleted: the old cookie no longer signs anyone in
    return redirect(url_for("portal.home"))


@bp.get("/review/")
@reviewer_required
def queue():
    return render_template("queue.html", cases=get_review().queue(now()))


def _case_page(order_id: str, error: str | None = None, status_code: int = 200):
    reviewer = g.portal_reviewer
    view = get_review().case_view(order_id, now(), Role(reviewer.role))
    return render_template("case.html", c=view, error=error), status_code


@bp.get("/review/cases/<order_id>")
@reviewer_required
def case(order_id: str):
    return _case_page(order_id)


@bp.post("/review/cases/<order_id>/<action>")
@reviewer_required
def act(order_id: str, action: str):
    try:
        chosen = Action(action)
    except ValueError:
        raise NotFound(Issue("not-found", f"unknown action {action!r}"))
    form = request.form
    params = {k: form.get(k) for k in ("note", "information", "reason", "duplicate_of")}
    params["drugs"] = form.getlist("drugs")
    params["quantities"] = {k[len("quantity-"):]: v for k, v in form.items()
                            if k.startswith("quantity-") and v.strip()}
    if not all(_finite(v) for v in params["quantities"].values()):
        return _case_page(order_id, error="a quantity must be a finite positive number", status_code=422)
    try:
        get_review().act(order_id, chosen, Actor.of(g.portal_reviewer), params, now())
    except ServiceError as err:
        if err.status == 404:
            raise
        return _case_page(order_id, error="; ".join(i.diagnostics for i in err.issues), status_code=err.status)
    flash(f"{ACTION_LABELS[chosen.value]}: done.")
    return redirect(url_for("portal.case", order_id=order_id))


@bp.get("/review/metrics")
@reviewer_required
def program_metrics():
    start, end = metrics_period()
    report = metrics.compute(get_review(), start, end)
    return render_template("metrics.html", r=report, chart=metrics_chart(report))


@bp.get("/review/metrics.csv")
@reviewer_required
def program_metrics_csv():
    start, end = metrics_period()
    resp = current_app.response_class(metrics.to_csv(metrics.compute(get_review(), start, end)), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f"attachment; filename=pa-metrics-{start}-{end}.csv"
    return resp


def _finite(value: str) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return True   # not a number at all: the review service names the problem
    return math.isfinite(number)


def metrics_chart(report: dict) -> dict:
    """Bars per month: approved / denied / pending (standard + expedited), as SVG geometry."""
    months = report["months"]
    series = []
    for m in months:
        total = {k: m["standard"][k] + m["expedited"][k] for k in ("approved", "denied", "pending")}
        series.append((m["month"], total))
    peak = max([max(t.values()) for _m, t in series] + [1])
    bar, gap, height = 18, 14, 160
    bars = []
    colors = {"approved": "#1b7837", "denied": "#b2182b", "pending": "#6b6b6b"}
    x = 40
    for month, totals in series:
        for kind in ("approved", "denied", "pending"):
            h = round(height * totals[kind] / peak)
            bars.append({"x": x, "y": 10 + height - h, "w": bar, "h": h, "fill": colors[kind],
                         "label": f"{month} {kind}: {totals[kind]}"})
            x += bar
        x += gap
    return {"bars": bars, "width": max(x + 20, 200), "height": height + 40, "months": series,
            "colors": colors, "peak": peak, "base": 10 + height}


def _secret_key(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    env = os.environ.get("ONCOPATH_SECRET_KEY")
    if env:
        app.config["SECRET_KEY"] = env
        return
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    if not (app.config.get("TESTING") or app.config.get("DEV")):
        log.warning("no SECRET_KEY configured (ONCOPATH_SECRET_KEY): a random one was generated for this "
                    "process; portal sessions end at restart and are not shared between workers")


def init_app(app: Flask) -> None:
    _secret_key(app)
    # Flask's defaults hold these keys already (SAMESITE None): set them, not setdefault.
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    base = app.config.get("PUBLIC_BASE_URL") or ""
    if base.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.register_blueprint(bp)
