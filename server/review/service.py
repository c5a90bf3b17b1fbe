"""ReviewService: a reviewer's action from request to stored, re-rendered, notified case.

No Flask here: the HTTP layers (`server/http/reviewer.py`, `server/http/portal.py`) pass the
reviewer, the parameters and `now`. One action = one transaction (ReviewStore.apply_review):
review action, status, decision, PAS response, case event, audit row and outbox
notifications are written together or not at all; delivery happens afterwards, elsewhere.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.domain.decision import CaseStatus, Decision
from server.domain.order import Urgency
from server.errors import Issue, NotFound, Unauthorized
from mappings import pas_request
from mappings.bundles import is_a
from server.review import accounts, deadlines
from mappings.pas_reviewed import render_case_response
from server.review.workflow import DECISIONS, Action, ReviewState, Role, allowed_actions, fold
from server.store.review import ReviewStore, Reviewer, latest_request_bundle
from server.store.service import CaseRecord, CaseStore



@dataclass(frozen=True)
class Actor:
    username: str
    role: Role

    @classmethod
    def of(cls, reviewer: Reviewer) -> "Actor":
        return cls(reviewer.username, Role(reviewer.role))


def submitter_identifiers(record: CaseRecord, order=None) -> set[str]:
    """Identifiers a Subscription's orgIdentifier is matched against (see server/notify): the
    submitting provider's NPI, and what the PAS request on file names the submitter by."""
    ids = {record.provider_npi} if record.provider_npi else set()
    if record.source == "pas":
        ids |= pas_request.submitter_identifiers(record.raw_request)
    else:
        order = order or record.order_obj()
        if order.ordering_provider.npi:
            ids.add(order.ordering_provider.npi)
    return ids


def modifications(actions) -> dict[str, float]:
    """Modified quantities of every approval on file (ref ⇒ billing units)."""
    out: dict[str, float] = {}
    for a in actions:
        if a.action == Action.APPROVE.value:
            out.update({k: float(v) for k, v in (a.detail.get("quantities") or {}).items()})
    return out


class ReviewService:
    def __init__(self, cases: CaseStore, reviews: ReviewStore, knowledge, *, base_url: str | None = None,
                 on_notify: Callable[[], None] | None = None, case_service=None):
        from server.cases import CaseService

        self.cases = cases
        self.reviews = reviews
        self.kb = knowledge
        self.base_url = base_url
        self.on_notify = on_notify
        self.case_service = case_service or CaseService(cases, knowledge)

    # -- authentication ---------------------------------------------------------------------

    def authenticate(self, username: str | None, password: str | None) -> Reviewer:
        reviewer = self.reviews.reviewer_by_username(username or "") if username else None
        if reviewer is None or not reviewer.active or not accounts.verify_password(password or "",
                                                                                    reviewer.password_hash):
            raise Unauthorized(Issue("login", "unknown reviewer or wrong password"))
        return reviewer

    def issue_token(self, reviewer: Reviewer, now: datetime) -> tuple[str, datetime]:
        token = accounts.new_token()
        expires = now + timedelta(seconds=accounts.TOKEN_TTL_SECONDS)
        self.reviews.add_token(accounts.token_hash(token), reviewer.id, now=now, expires_at=expires)
        return token, expires

    def reviewer_for_token(self, token: str, now: datetime) -> Reviewer | None:
        return self.reviews.reviewer_for_token(accounts.token_hash(token), now=now)

    # -- reads --------------------------------------------------------------------------------

    def _record(self, order_id: str) -> CaseRecord:
        record = self.cases.get_case(order_id)
        if record is None:
            raise NotFound(Issue("not-found", f"case {order_id} not found"))
        return record

    def state(self, record: CaseRecord, actions=None) -> ReviewState:
        return fold(record.status, actions if actions is not None else self.reviews.review_actions(record.order_id))

    def queue(self, now: datetime) -> list[dict]:
        """Pended cases, overdue and urgent first; an overdue case is flagged for a physician
        (computed here: reading the queue writes nothing; the deadline sweep records the
        escalation, deadlines.sweep_overdue)."""
        records = self.reviews.pended_cases()
        actions = self.reviews.actions_for(r.order_id for r in records)
        rows = []
        for rec in records:
            state = self.state(rec, actions[rec.order_id])
            overdue = deadlines.is_overdue(rec.due_by, now)
            urgency = (rec.order or {}).get("urgency") or Urgency.STANDARD.value
            drugs = (rec.decision or {}).get("drugs") or []
            rows.append({
                "orderId": rec.order_id, "status": rec.status, "urgency": urgency, "source": rec.source,
                "receivedAt": rec.received_at.isoformat(),
                "dueBy": rec.due_by.isoformat() if rec.due_by else None,
                "overdue": overdue, "physicianEscalation": overdue or state.escalated,
                "peerToPeerOffered": state.peer_to_peer_offered,
                "pendingDrugs": [d.get("display") for d in drugs if d.get("status") == "In Progress"],
                "_key": deadlines.queue_key(due_by=rec.due_by, urgent=urgency == Urgency.URGENT.value,
                                            received_at=rec.received_at, now=now),
            })
        rows.sort(key=lambda r: r.pop("_key"))
        return rows

    def case_view(self, order_id: str, now: datetime, role: Role | None = None) -> dict:
        record = self._record(order_id)
        actions = self.reviews.review_actions(order_id)
        state = self.state(record, actions)
        view = {
            "orderId": record.order_id, "source": record.source, "status": record.status,
            "revision": record.revision, "receivedAt": record.received_at.isoformat(),
            "dueBy": record.due_by.isoformat() if record.due_by else None,
            "overdue": record.status == CaseStatus.IN_PROGRESS.value and deadlines.is_overdue(record.due_by, now),
            "providerNpi": record.provider_npi, "kbVersion": record.kb_version,
            "order": record.order, "decision": record.decision,
            "review": {"peerToPeerOffered": state.peer_to_peer_offered, "peerToPeerHeld": state.peer_to_peer_held,
                       "informationRequested": state.information_requested,
                       "deniedAt": state.denied_at.isoformat() if state.denied_at else None,
                       "reconsiderationBy": (state.reconsideration_deadline.isoformat()
                                             if state.reconsideration_deadline else None),
                       "escalated": state.escalated},
            "actions": [{"at": a.at.isoformat(), "actor": a.actor, "role": a.role, "action": a.action,
                         "detail": a.detail} for a in actions],
            "events": [{"at": e.at.isoformat(), "kind": e.kind, "status": e.status, "actor": e.actor, "note": e.note}
                       for e in self.cases.case_events(order_id)],
            "audit": [{"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "before": a.before,
                       "after": a.after} for a in self.cases.audit_trail(order_id)],
        }
        if role is not None:
            view["allowedActions"] = [a.value for a in allowed_actions(state, role, now)]
        return view

    # -- actions ------------------------------------------------------------------------------

    def act(self, order_id: str, action: Action | str, actor: Actor, params: dict[str, Any], now: datetime) -> CaseRecord:
        """A reviewer's action: a use case of the case service (server/cases)."""
        return self.case_service.act(order_id, action, actor, params, now, review=self)

    @staticmethod
    def submitter_identifiers(record: CaseRecord, order=None) -> set[str]:
        return submitter_identifiers(record, order)

    def _fhir_base(self) -> str | None:
        return f"{self.base_url.rstrip('/')}/fhir" if self.base_url else None

    def render(self, record: CaseRecord, order, decision: Decision, *, actions_after, now: datetime) -> dict:
        reviewed = any(a.action in {x.value for x in DECISIONS} for a in actions_after)
        return render_case_response(order=order, decision=decision, order_id=record.order_id,
                                    request_bundle=latest_request_bundle(self.cases, record.order_id),
                                    created=now, revision=record.revision + 1, base_url=self._fhir_base(),
                                    reviewed=reviewed, modified=modifications(actions_after))

    def current_claim_response_bundle(self, record: CaseRecord) -> dict:
        """The case's current PAS response Bundle (a CDS-sourced case never reviewed has cards
        on file: its ClaimResponse is rendered from the decision)."""
        resp = record.response
        if is_a(resp, "Bundle"):
            return resp
        order, decision = record.order_obj(), record.decision_obj()
        return render_case_response(order=order, decision=decision, order_id=record.order_id,
                                    request_bundle=latest_request_bundle(self.cases, record.order_id),
                                    created=record.updated_at, revision=record.revision, base_url=self._fhir_base())


