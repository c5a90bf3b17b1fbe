"""The disease-site worksheet as a form a clinician can fill in (the pended card links here).

- `GET  /worksheets/<order_id>?t=<token>` the case's worksheet (its FHIR Questionnaire as an
  HTML form), prefilled with what the request already told us;
- `POST /worksheets/<order_id>` (same token, in the form) attaches the answers to the case as a
  QuestionnaireResponse and decides the case again at once; the page shows the new status.

Access: the signed token in the card's link (server/worksheets/links.py, keyed by SECRET_KEY);
a missing or wrong token is answered like an unknown Order ID (404). The FHIR Questionnaire
itself stays at /fhir/Questionnaire/<id> for DTR clients.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Flask, current_app, render_template, request

from cards.wording import pend_findings
from server.domain.decision import CaseStatus
from server.errors import BadRequest, Conflict, Issue, NotFound
from server.hooks.questionnaires import questionnaire_id, worksheet
from server.worksheets import links
from server.worksheets.service import prefill, submit_worksheet

bp = Blueprint("worksheets", __name__)


def _case(order_id: str, token: str | None):
    store = current_app.extensions.get("oncopath.store")
    if not links.valid(order_id, token, current_app.config.get("SECRET_KEY")) or store is None:
        raise NotFound(Issue("not-found", "no worksheet for this link"))
    record = store.get_case(order_id)
    if record is None:
        raise NotFound(Issue("not-found", "no worksheet for this link"))
    return store, record


def _form(record, token: str, values: dict, error: str | None = None, status: int = 200):
    kb = current_app.extensions.get("oncopath.knowledge")
    cancer = record.decision.get("cancer_type") or "general"
    base = (current_app.config.get("PUBLIC_BASE_URL") or request.host_url).rstrip("/")
    q = worksheet(cancer, kb, f"{base}/fhir/Questionnaire/{questionnaire_id(cancer)}",
                  getattr(kb, "version", None))
    decision = record.decision_obj()
    name = kb.cancer_types[cancer].name if kb is not None and cancer in kb.cancer_types else "this cancer"
    needed = [f.text for f in pend_findings(decision, kb, name)][:4]
    return render_template("worksheet.html", q=q, record=record, token=token, values=values, needed=needed,
                           error=error), status


def _closed(record, status: int = 200):
    """A case no longer in review takes no worksheet: say so, in a page."""
    return render_template("worksheet_closed.html", record=record), status


@bp.get("/worksheets/<order_id>")
def show(order_id: str):
    token = request.args.get("t")
    _store, record = _case(order_id, token)
    if record.status != CaseStatus.IN_PROGRESS.value:
        return _closed(record)
    return _form(record, token, prefill(record.order_obj()))


@bp.post("/worksheets/<order_id>")
def submit(order_id: str):
    token = request.form.get("t")
    store, record = _case(order_id, token)
    answers = {k: v for k, v in request.form.items() if k != "t"}
    clock = current_app.extensions.get("oncopath.clock")
    now = clock() if clock else datetime.now(timezone.utc)
    try:
        decision = submit_worksheet(store, current_app.extensions["oncopath.knowledge"], order_id, answers, now)
    except BadRequest as e:
        return _form(record, token, answers, error=str(e), status=400)
    except Conflict:
        return _closed(store.get_case(order_id) or record, 409)
    return render_template("worksheet_done.html", order_id=order_id, decision=decision)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
