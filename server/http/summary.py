"""R16 order summary and the current ClaimResponse of a case.

- `GET /orders/<order_id>/summary?npi=<submitting provider NPI>` — printable HTML
  (print CSS): drugs with HCPCS codes, dosing, visits, billing units, valid dates, Order ID,
  Pathway Eligible ID, S-codes with their billing windows, case and drug statuses.
- `GET /fhir/ClaimResponse/<order_id>?npi=...` — the case's current PAS ClaimResponse
  (`Accept: application/fhir+json`).

Access: a signed-in reviewer (portal session or bearer token) sees every case; a B2B client
(SMART Backend Services access token with system/ClaimResponse.rs) sees the cases of its
organisations. Without either, when the FHIR door is open (development), the NPI of the
provider who submitted the case is enough; otherwise it is a 401. A case that is not the
viewer's is answered exactly like an unknown Order ID (404).
"""
from __future__ import annotations

import json

from flask import Blueprint, Flask, current_app, render_template, request

from mappings.bundles import first_entry
from server.errors import Issue, NotFound
from server.http.errors import audit_refusal
from server.http.reviewer import bearer_actor, get_review
from server.security import sessions, smart_auth
from server.security.clients import SCOPE_READ
from server.review.summary import summary_view
from server.store.service import CaseRecord

bp = Blueprint("summary", __name__)


def viewer_is_reviewer() -> bool:
    rid = sessions.reviewer_id()
    if rid is not None:
        reviewer = get_review().reviews.reviewer_by_id(rid)
        return reviewer is not None and reviewer.active
    if request.headers.get("Authorization"):
        bearer_actor()   # a bad token is a 401, not a silent fallback
        return True
    return False


def _may_see(record: CaseRecord, npi: str | None) -> bool:
    client = smart_auth.client_from_token() if smart_auth.bearer_token() else None
    if client is not None:
        if not client.may(SCOPE_READ):
            return False
        return record.provider_npi in client.organizations
    if viewer_is_reviewer():
        return True
    if smart_auth.auth_required():
        smart_auth.require_client(SCOPE_READ)   # no credentials at all: 401
    return bool(npi and npi.strip() == record.provider_npi)


def case_for_viewer(order_id: str, npi: str | None) -> CaseRecord:
    """The case if this viewer may see it; otherwise NotFound (same answer as unknown)."""
    order_id = (order_id or "").strip().upper()
    record = get_review().cases.get_case(order_id) if len(order_id) <= 64 else None
    if record is None and smart_auth.auth_required() and not smart_auth.bearer_token() \
            and sessions.reviewer_id() is None:
        smart_auth.require_client(SCOPE_READ)   # unknown or not: 401 first, for everyone
    if record is not None and _may_see(record, npi):
        return record
    if record is not None:   # on file, but not this viewer's: answered as unknown, audited
        audit_refusal(404, "case read refused: the NPI given is not the submitting provider's")
    raise NotFound(Issue("not-found", "no case with this Order ID for this provider NPI"))


def summary_for(record: CaseRecord) -> dict:
    return summary_view(record.order_id, record.order_obj(), record.decision_obj(), status=record.status,
                        received_at=record.received_at, updated_at=record.updated_at)


@bp.get("/orders/<order_id>/summary")
def order_summary(order_id: str):
    npi = request.args.get("npi")
    record = case_for_viewer(order_id, npi)
    view = summary_for(record)
    if request.args.get("format") == "json":
        return view
    return render_template("summary.html", s=view, npi=npi)


@bp.get("/fhir/ClaimResponse/<order_id>")
def claim_response(order_id: str):
    record = case_for_viewer(order_id, request.args.get("npi"))
    bundle = get_review().current_claim_response_bundle(record)
    body, _url = first_entry(bundle)
    return current_app.response_class(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                                      mimetype="application/fhir+json")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
