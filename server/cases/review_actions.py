"""A reviewer's action as a case use case: check the review state machine, change the Decision
with an engine transition (`server.engine.transitions`), render the new PAS response and store
action, status, decision, response, event, audit row and outbox notifications in ONE unit of
work (`ReviewStore.apply_review`). Called through `CaseService.act`."""
from __future__ import annotations

import math

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.domain.decision import Decision
from server.engine import transitions
from server.errors import Issue, Unprocessable
from server.notify.notification import notification_bundle
from server.review.workflow import DECISIONS, Action, check
from server.store import CaseRecord

MIN_REASON_LENGTH = 10


def act(cases, review, order_id: str, action: Action | str, actor, params: dict[str, Any], now: datetime) -> CaseRecord:
    action = Action(action)
    if action is Action.ESCALATE:
        raise Unprocessable(Issue("not-supported", "escalation is done by the clock, not by a reviewer"))
    record = review._record(order_id)
    actions = review.reviews.review_actions(order_id)
    state = review.state(record, actions)
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
        history = cases.history(record.member_id, exclude_order_id=order_id)
        decision, approved = transitions.approve(current, order, cases.knowledge(), history, refs=refs,
                                               quantities=quantities, reviewer=actor.username)
        detail.update(drugs=approved, quantities=quantities)
    elif action is Action.DENY:
        reason = _text(params.get("reason"))
        if not reason or len(reason) < MIN_REASON_LENGTH:
            raise Unprocessable(Issue("required", "a denial needs a specific reason (CMS-0057-F), at least "
                                                  f"{MIN_REASON_LENGTH} characters", expression=["reason"]))
        history = cases.history(record.member_id, exclude_order_id=order_id)
        decision, denied = transitions.deny(current, order, cases.knowledge(), history, refs=refs, reason=reason,
                                          reviewer=actor.username)
        detail.update(drugs=denied, reason=reason)
    elif action is Action.CANCEL_DUPLICATE:
        decision = transitions.cancel_duplicate(current, note=note or "", reviewer=actor.username)
        detail["duplicateOf"] = _text(params.get("duplicate_of")) or current.duplicate_of
    elif action is Action.RECONSIDERATION:
        decision = transitions.reopen(current, order, cases.knowledge(), reviewer=actor.username, note=note or "", now=now)

    status = decision.case_status.value if decision is not None else record.status
    response = None
    if decision is not None:
        response = review.render(record, order, decision, actions_after=actions + [_Pending(action.value, detail)],
                               now=now)
    notify = action in DECISIONS and decision is not None

    def build(subscription: dict, event_number: int) -> dict:
        return notification_bundle(subscription_id=subscription["id"], event_number=event_number, timestamp=now,
                                   response_bundle=response, order_id=order_id, base_url=review._fhir_base())
    updated = review.reviews.apply_review(
        order_id, expected_revision=record.revision, actor=actor.username, role=actor.role.value,
        action=action.value, detail=detail, now=now, status=status, decision=decision, response=response,
        note=_event_note(action, detail),
        before={"status": record.status, "revision": record.revision,
                "drugs": {d.ref: d.status.value for d in current.drugs}},
        after={"action": action.value, **({"drugs": {d.ref: d.status.value for d in decision.drugs}}
                                           if decision is not None else {}),
               **({"reason": detail["reason"]} if "reason" in detail else {})},
        notify_org_ids=review.submitter_identifiers(record, order) if notify else (),
        build_notification=build if notify else None)
    if notify and review.on_notify is not None:
        review.on_notify()
    return updated


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
        if not math.isfinite(q) or q <= 0:   # NaN/Infinity stored made later answers invalid JSON
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
