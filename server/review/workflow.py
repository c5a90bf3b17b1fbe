"""The review state machine (pure: no I/O, no Flask, no clock of its own).

The state of a case under review is folded from its case status (R17) and the review actions
on file. `check(action, state, role, now)` says whether an action may happen now, raising
`Forbidden` (wrong role) or `Conflict` (wrong state) with a message a reviewer can act on.

| state (case status)                 | allowed actions                                            |
|-------------------------------------|------------------------------------------------------------|
| In Progress                         | request-information, peer-to-peer-offered, peer-to-peer-held (after offered), approve, deny (physician, after peer-to-peer offered), cancel-duplicate |
| Non-Authorized / Multiple Decisions | reconsideration, within 10 calendar days of the denial (R11); later: appeal to the health plan |
| Authorized / Completed / Review Cancelled | none (closed)                                         |
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from server.domain.decision import CaseStatus
from server.errors import Conflict, Forbidden, Issue

RECONSIDERATION_DAYS = 10


class Role(str, Enum):
    NURSE = "nurse"
    PHYSICIAN = "physician"
    SYSTEM = "system"


class Action(str, Enum):
    REQUEST_INFORMATION = "request-information"
    PEER_TO_PEER_OFFERED = "peer-to-peer-offered"
    PEER_TO_PEER_HELD = "peer-to-peer-held"
    APPROVE = "approve"
    DENY = "deny"
    CANCEL_DUPLICATE = "cancel-duplicate"
    RECONSIDERATION = "reconsideration"
    ESCALATE = "escalate"          # the clock's: an overdue case goes to a physician


DECISIONS = frozenset({Action.APPROVE, Action.DENY, Action.CANCEL_DUPLICATE})
_OPEN = {CaseStatus.IN_PROGRESS}
_DENIED = {CaseStatus.NON_AUTHORIZED, CaseStatus.MULTIPLE_DECISIONS}


@dataclass(frozen=True)
class ReviewState:
    status: CaseStatus
    peer_to_peer_offered: bool = False
    peer_to_peer_held: bool = False
    information_requested: bool = False
    denied_at: datetime | None = None
    reconsidered: bool = False
    escalated: bool = False          # escalated since the case was last opened for review

    @property
    def reconsideration_deadline(self):
        return (self.denied_at.date() + timedelta(days=RECONSIDERATION_DAYS)) if self.denied_at else None


def fold(status: CaseStatus | str, actions) -> ReviewState:
    """The state from the case status and its review actions (objects with .action and .at), oldest first."""
    state = {"status": CaseStatus(status)}
    for a in actions:
        name = Action(a.action)
        if name is Action.PEER_TO_PEER_OFFERED:
            state["peer_to_peer_offered"] = True
        elif name is Action.PEER_TO_PEER_HELD:
            state["peer_to_peer_held"] = True
        elif name is Action.REQUEST_INFORMATION:
            state["information_requested"] = True
        elif name is Action.DENY:
            state["denied_at"] = a.at
        elif name is Action.RECONSIDERATION:
            state["reconsidered"] = True
            state["escalated"] = False
        elif name is Action.ESCALATE:
            state["escalated"] = True
    return ReviewState(**state)


def _conflict(text: str) -> Conflict:
    return Conflict(Issue("business-rule", text))


def check(action: Action, state: ReviewState, role: Role, now: datetime) -> None:
    """Raise Forbidden or Conflict when `role` may not take `action` in `state` at `now`."""
    if action is Action.ESCALATE:
        if state.status not in _OPEN:
            raise _conflict(f"only a case in review can be escalated; this one is {state.status.value}")
        return
    if role is Role.SYSTEM:
        raise Forbidden(Issue("forbidden", "reviewer actions need a nurse or physician reviewer"))
    if action is Action.DENY and role is not Role.PHYSICIAN:
        # R3: no adverse determination until a medical oncologist has reviewed the case.
        raise Forbidden(Issue("forbidden", "only a physician reviewer can deny; a nurse reviewer can "
                                           "approve, request information or offer peer-to-peer"))
    if action is Action.RECONSIDERATION:
        _check_reconsideration(state, now)
        return
    if state.status not in _OPEN:
        raise _conflict(f"the case is {state.status.value}: {action.value} is only possible while it is "
                        f"In Progress" + (" (a denial can be reconsidered instead)" if state.status in _DENIED else ""))
    if action is Action.PEER_TO_PEER_OFFERED and state.peer_to_peer_offered and not state.reconsidered:
        raise _conflict("peer-to-peer has already been offered for this case")
    if action is Action.PEER_TO_PEER_HELD:
        if not state.peer_to_peer_offered:
            raise _conflict("peer-to-peer must be offered before it can be recorded as held")
    if action is Action.DENY and not state.peer_to_peer_offered:
        raise _conflict("a denial needs peer-to-peer to have been offered to the ordering provider first "
                        "(record peer-to-peer-offered)")


def _check_reconsideration(state: ReviewState, now: datetime) -> None:
    if state.status not in _DENIED or state.denied_at is None:
        raise _conflict(f"the case is {state.status.value}: there is no denial to reconsider")
    deadline = state.reconsideration_deadline
    if now.date() > deadline:
        raise _conflict(f"reconsideration must be requested within {RECONSIDERATION_DAYS} calendar days of the "
                        f"denial (by {deadline.isoformat()}); submit a first-level appeal to the health plan")


def allowed_actions(state: ReviewState, role: Role, now: datetime) -> list[Action]:
    """What the portal offers this reviewer now."""
    out = []
    for action in Action:
        if action is Action.ESCALATE:
            continue
        try:
            check(action, state, role, now)
        except (Conflict, Forbidden):
            continue
        out.append(action)
    return out
