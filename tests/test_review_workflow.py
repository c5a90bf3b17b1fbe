"""The review state machine, table-driven: every action in every state, by each role."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from server.domain.decision import CaseStatus
from server.errors import Conflict, Forbidden
from server.review.workflow import Action, ReviewState, Role, allowed_actions, check, fold

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
IN_PROGRESS = ReviewState(CaseStatus.IN_PROGRESS)
OFFERED = ReviewState(CaseStatus.IN_PROGRESS, peer_to_peer_offered=True)
DENIED = ReviewState(CaseStatus.NON_AUTHORIZED, peer_to_peer_offered=True, denied_at=NOW)
MIXED = ReviewState(CaseStatus.MULTIPLE_DECISIONS, peer_to_peer_offered=True, denied_at=NOW)

OK, CONFLICT, FORBIDDEN = "ok", "409", "403"

# (state, action, role, expected)
TABLE = [
    (IN_PROGRESS, Action.REQUEST_INFORMATION, Role.NURSE, OK),
    (IN_PROGRESS, Action.PEER_TO_PEER_OFFERED, Role.NURSE, OK),
    (IN_PROGRESS, Action.PEER_TO_PEER_HELD, Role.PHYSICIAN, CONFLICT),     # not offered yet
    (OFFERED, Action.PEER_TO_PEER_HELD, Role.PHYSICIAN, OK),
    (OFFERED, Action.PEER_TO_PEER_OFFERED, Role.NURSE, CONFLICT),          # already offered
    (IN_PROGRESS, Action.APPROVE, Role.NURSE, OK),
    (IN_PROGRESS, Action.APPROVE, Role.PHYSICIAN, OK),
    (IN_PROGRESS, Action.DENY, Role.PHYSICIAN, CONFLICT),                  # no peer-to-peer offered
    (IN_PROGRESS, Action.DENY, Role.NURSE, FORBIDDEN),
    (OFFERED, Action.DENY, Role.NURSE, FORBIDDEN),
    (OFFERED, Action.DENY, Role.PHYSICIAN, OK),
    (IN_PROGRESS, Action.CANCEL_DUPLICATE, Role.NURSE, OK),
    (IN_PROGRESS, Action.RECONSIDERATION, Role.PHYSICIAN, CONFLICT),       # nothing denied
    (DENIED, Action.RECONSIDERATION, Role.NURSE, OK),
    (MIXED, Action.RECONSIDERATION, Role.PHYSICIAN, OK),
    (DENIED, Action.APPROVE, Role.PHYSICIAN, CONFLICT),
    (DENIED, Action.DENY, Role.PHYSICIAN, CONFLICT),
    (DENIED, Action.REQUEST_INFORMATION, Role.NURSE, CONFLICT),
] + [
    (ReviewState(status), action, Role.PHYSICIAN, CONFLICT)
    for status in (CaseStatus.AUTHORIZED, CaseStatus.COMPLETED, CaseStatus.REVIEW_CANCELLED)
    for action in (Action.REQUEST_INFORMATION, Action.PEER_TO_PEER_OFFERED, Action.PEER_TO_PEER_HELD,
                   Action.APPROVE, Action.DENY, Action.CANCEL_DUPLICATE, Action.RECONSIDERATION)
]


@pytest.mark.parametrize("state,action,role,expected", TABLE,
                         ids=[f"{s.status.value}-{a.value}-{r.value}" for s, a, r, _ in TABLE])
def test_each_action_is_allowed_or_refused_as_the_program_says(state, action, role, expected):
    if expected == OK:
        check(action, state, role, NOW)
    elif expected == CONFLICT:
        with pytest.raises(Conflict):
            check(action, state, role, NOW)
    else:
        with pytest.raises(Forbidden):
            check(action, state, role, NOW)


def test_a_nurse_denying_is_told_only_a_physician_can_deny():
    with pytest.raises(Forbidden) as err:
        check(Action.DENY, OFFERED, Role.NURSE, NOW)
    assert "only a physician reviewer can deny" in str(err.value)


def test_a_denial_without_peer_to_peer_says_to_offer_it_first():
    with pytest.raises(Conflict) as err:
        check(Action.DENY, IN_PROGRESS, Role.PHYSICIAN, NOW)
    assert "peer-to-peer" in str(err.value)


@pytest.mark.parametrize("days,allowed", [(0, True), (10, True), (11, False), (30, False)])
def test_reconsideration_is_open_for_ten_calendar_days_after_the_denial(days, allowed):
    later = NOW + timedelta(days=days)
    if allowed:
        check(Action.RECONSIDERATION, DENIED, Role.NURSE, later)
    else:
        with pytest.raises(Conflict) as err:
            check(Action.RECONSIDERATION, DENIED, Role.NURSE, later)
        assert "appeal to the health plan" in str(err.value)
        assert "2026-11-30" in str(err.value)


def test_the_clock_never_takes_a_reviewer_decision():
    for action in (Action.APPROVE, Action.DENY):
        with pytest.raises(Forbidden):
            check(action, OFFERED, Role.SYSTEM, NOW)
    check(Action.ESCALATE, IN_PROGRESS, Role.SYSTEM, NOW)


def test_the_state_is_folded_from_the_review_actions_in_order():
    acts = [SimpleNamespace(action="peer-to-peer-offered", at=NOW),
            SimpleNamespace(action="escalate", at=NOW),
            SimpleNamespace(action="deny", at=NOW + timedelta(hours=1))]
    state = fold("Non-Authorized", acts)
    assert state.peer_to_peer_offered and state.escalated
    assert state.denied_at == NOW + timedelta(hours=1)
    assert state.reconsideration_deadline.isoformat() == "2026-11-30"
    reopened = fold("In Progress", acts + [SimpleNamespace(action="reconsideration", at=NOW + timedelta(days=2))])
    assert reopened.reconsidered and not reopened.escalated


def test_the_portal_offers_a_nurse_no_deny_and_a_physician_deny_after_peer_to_peer():
    assert Action.DENY not in allowed_actions(OFFERED, Role.NURSE, NOW)
    assert Action.DENY in allowed_actions(OFFERED, Role.PHYSICIAN, NOW)
    assert allowed_actions(ReviewState(CaseStatus.AUTHORIZED), Role.PHYSICIAN, NOW) == []

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
