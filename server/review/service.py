"""ReviewService: a reviewer's action from request to stored, re-rendered, notified case.

No Flask here: the HTTP layers (`server/http/reviewer.py`, `server/http/portal.py`) pass the
reviewer, the parameters and `now`. One action = one transaction (ReviewStore.apply_review):
review action, status, decision, PAS response, case event, audit row and outbox
notifications are written together or not at all; delivery happens afterwards, elsewhere.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.domain.decision import CaseStatus, Decision
from server.domain.order import Urgency
from server.errors import Issue, NotFound, Unauthorized, Unprocessable
from server.notify.notification import notification_bundle
from server.review import accounts, decisions, deadlines
from server.review.render import render_case_response
from server.review.workflow import DECISIONS, Action, ReviewState, Role, allowed_actions, check, fold
from server.store.review import ReviewStore, Reviewer, latest_request_bundle
from server.store.service import CaseRecord, CaseStore

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
MIN_REASON_LENGTH = 10


@dataclass(frozen=True)
class Actor:
    username: str
    role: Role

    @classmethod
    def of(cls, reviewer: Reviewer) -> "Actor":
        return cls(reviewer.username, Role(reviewer.role))


def submitter_identifiers(record: CaseRecord, order=None) -> set[str]:
    """Identifiers a Subscription's orgIdentifier is matched against (see server/notify)."""
    ids = {record.provider_npi} if record.provider_npi else set()
    bundle = record.raw_request if isinstance(record.raw_request, dict) else {}
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict)]
    claim = next((e.get("resource") for e in entries if (e.get("resource") or {}).get("resourceType") == "Claim"), None)
    if claim:
        for ident in claim.get("identifier") or []:
            system = (ident or {}).get("system") or ""
            if system.startswith("urn:trnorg:"):
                ids.add(system.split(":", 2)[2])
        by_ref = {}
        for e in entries:
            res = e.get("resource") or {}
            if e.get("fullUrl"):
                by_ref[e["fullUrl"]] = res
            if res.get("id"):
                by_ref[f"{res.get('resourceType')}/{res['id']}"] = res

        def resolve(ref):
            ref = (ref or {}).get("reference") if isinstance(ref, dict) else None
            if not ref:
                return None
            return by_ref.get(ref) or by_ref.get("/".join(ref.rstrip("/").split("/")[-2:]))

        provider = resolve(claim.get("provider"))
        resources = [provider] if provider else []
        if provider and provider.get("resourceType") == "PractitionerRole":
            resources += [resolve(provider.get("practitioner")), resolve(provider.get("organization"))]
        for res in resources:
            for ident in (res or {}).get("identifier") or []:
                if (ident or {}).get("value"):
                    ids.add(ident["value"])
    elif record.source == "cds":
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
                 on_notify: Callable[[], None] | None = None):
        self.cases = cases
        self.reviews = reviews
        self.kb = knowledge
        self.base_url = base_url
        self.on_notify = on_notify

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
        """Pended cases, overdue and urgent first; an overdue case is escalated to a physician
        (one audit row, the first time it is seen overdue)."""
        records = self.reviews.pended_cases()
        actions = self.reviews.actions_for(r.order_id for r in records)
        rows = []
        for rec in records:
            state = self.state(rec, actions[rec.order_id])
            overdue = deadlines.is_overdue(rec.due_by, now)
            if deadlines.needs_escalation(rec.due_by, now, state.escalated):
                self.reviews.record_action(rec.order_id, actor="system", role=Role.SYSTEM.value,
                                           action=Action.ESCALATE.value, now=now,
                                           detail={"due_by": rec.due_by.isoformat(), "to": "physician",
                                                   "text": "decision overdue: escalated to a physician reviewer"})
                state = ReviewState(**{**state.__dict__, "escalated": True})
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
        action = Action(action)
        if action is Action.ESCALATE:
            raise Unprocessable(Issue("not-supported", "escalation is done by the clock, not by a reviewer"))
        record = self._record(order_id)
        actions = self.reviews.review_actions(order_id)
        state = self.state(record, actions)
        check(action, state, actor.role, now)

        note = _text(params.get("note"))
        detail: dict[str, Any] = {}
        if note:
            detail["note"] = note
        decision: Decision | None = None
        order = record.order_obj()
        current = record.decision_obj()
        refs = _refs(params.get("drugs"))
        if action is Action.REQUEST_INFORMATION:
            wanted = _text(params.get("information")) or note
            if not wanted:
                raise Unprocessable(Issue("required", "say which information is requested", expression=["information"]))
            detail["information"] = wanted
        elif action is Action.APPROVE:
            quantities = _quantities(params.get("quantities"))
            history = self.cases.history_for_member(record.member_id, exclude_order_id=order_id)
            decision, approved = decisions.approve(current, order, self.kb, history, refs=refs,
                                                   quantities=quantities, reviewer=actor.username)
            detail.update(drugs=approved, quantities=quantities)
        elif action is Action.DENY:
            reason = _text(params.get("reason"))
            if not reason or len(reason) < MIN_REASON_LENGTH:
                raise Unprocessable(Issue("required", "a denial needs a specific reason (CMS-0057-F), at least "
                                                      f"{MIN_REASON_LENGTH} characters", expression=["reason"]))
            history = self.cases.history_for_member(record.member_id, exclude_order_id=order_id)
            decision, denied = decisions.deny(current, order, self.kb, history, refs=refs, reason=reason,
                                              reviewer=actor.username)
            detail.update(drugs=denied, reason=reason)
        elif action is Action.CANCEL_DUPLICATE:
            decision = decisions.cancel_duplicate(current, note=note or "", reviewer=actor.username)
            detail["duplicateOf"] = _text(params.get("duplicate_of")) or current.duplicate_of
        elif action is Action.RECONSIDERATION:
            decision = decisions.reopen(current, order, self.kb, reviewer=actor.username, note=note or "", now=now)

        status = decision.case_status.value if decision is not None else record.status
        response = None
        if decision is not None:
            response = self.render(record, order, decision, actions_after=actions + [_Pending(action.value, detail)],
                                   now=now)
        notify = action in DECISIONS and decision is not None

        def build(subscription: dict, event_number: int) -> dict:
            return notification_bundle(subscription_id=subscription["id"], event_number=event_number, timestamp=now,
                                       response_bundle=response, order_id=order_id, base_url=self._fhir_base())
        updated = self.reviews.apply_review(
            order_id, expected_revision=record.revision, actor=actor.username, role=actor.role.value,
            action=action.value, detail=detail, now=now, status=status, decision=decision, response=response,
            note=_event_note(action, detail),
            before={"status": record.status, "revision": record.revision,
                    "drugs": {d.ref: d.status.value for d in current.drugs}},
            after={"action": action.value, **({"drugs": {d.ref: d.status.value for d in decision.drugs}}
                                               if decision is not None else {}),
                   **({"reason": detail["reason"]} if "reason" in detail else {})},
            notify_org_ids=submitter_identifiers(record, order) if notify else (),
            build_notification=build if notify else None)
        if notify and self.on_notify is not None:
            self.on_notify()
        return updated

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
        if isinstance(resp, dict) and resp.get("resourceType") == "Bundle":
            return resp
        order, decision = record.order_obj(), record.decision_obj()
        return render_case_response(order=order, decision=decision, order_id=record.order_id,
                                    request_bundle=latest_request_bundle(self.cases, record.order_id),
                                    created=record.updated_at, revision=record.revision, base_url=self._fhir_base())


@dataclass(frozen=True)
class _Pending:
    """The action being applied, seen as if on file (for rendering before it is stored)."""
    action: str
    detail: dict


def _text(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unprocessable(Issue("value", "text fields must be strings"))
    value = value.strip()
    return value or None


def _refs(value) -> list[str]:
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v]
    raise Unprocessable(Issue("value", "drugs must be a list of drug refs (e.g. \"item/1\")", expression=["drugs"]))


def _quantities(value) -> dict[str, float]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise Unprocessable(Issue("value", "quantities must map drug refs to billing units", expression=["quantities"]))
    out = {}
    for ref, qty in value.items():
        try:
            q = float(qty)
        except (TypeError, ValueError):
            raise Unprocessable(Issue("value", f"quantity for {ref} must be a number", expression=["quantities"]))
        if not math.isfinite(q) or q <= 0:
            raise Unprocessable(Issue("value", f"quantity for {ref} must be a finite positive number",
                                      expression=["quantities"]))
        out[str(ref)] = q
    return out


def _event_note(action: Action, detail: dict) -> str:
    text = action.value
    if detail.get("drugs"):
        text += " " + ", ".join(detail["drugs"])
    if detail.get("reason"):
        text += f": {detail['reason']}"
    elif detail.get("information"):
        text += f": {detail['information']}"
    return text
