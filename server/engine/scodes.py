"""R15: enhanced-reimbursement S-codes for an on-pathway regimen.

S0353 once at the onset of a pathway regimen; S0354 at most monthly after, never within
30 days of S0353; for the planned cycles of a fixed-duration regimen, else at most 6 months.
Ordering provider only, in network, and only when the case is not pended.
"""
from __future__ import annotations

from datetime import date, timedelta

from server.domain.decision import SCode
from server.domain.order import NetworkStatus
from server.knowledge.model import Regimen

from .context import Case
from .dates import whole_months
from .regimens import course_end, fixed_days

S0354_GAP_DAYS = 30


def award_s_codes(case: Case, pended: bool) -> tuple[SCode, ...]:
    pm = case.pathway
    if pm is None or pm.pathway_eligible_id is None:
        case.trace.add("R15", "no S-codes: regimen not pathway-eligible")
        return ()
    if pended:
        case.trace.add("R15", "no S-codes while the case is in progress")
        return ()
    if case.order.ordering_provider.network_status is NetworkStatus.OUT_OF_NETWORK:
        case.trace.add("R15", "no S-codes: ordering provider out of network")
        return ()
    regimen = case.regimen
    start = case.date_of_service
    codes: list[SCode] = []
    earlier = _earlier_s0353(case, regimen.id)
    if earlier is None:
        codes.append(SCode("S0353", start, start, 1,
                           f"once, at the onset of {regimen.name}; bill by the ordering provider"))
        s0354_from = start + timedelta(days=S0354_GAP_DAYS)
    else:
        case.trace.add("R15", f"S0353 already awarded on {earlier.isoformat()} for {regimen.id}: not repeated")
        s0354_from = max(start, earlier + timedelta(days=S0354_GAP_DAYS))
    s0354 = _s0354(regimen, start, s0354_from, course_end(case, start))
    if s0354 is not None:
        codes.append(s0354)
    case.trace.add("R15", "S-codes: " + (", ".join(f"{c.code} {c.valid_from}..{c.valid_to} x{c.max_units}"
                                                  for c in codes) or "none"))
    return tuple(codes)


def _earlier_s0353(case: Case, regimen_id: str) -> date | None:
    for prior in case.history.prior_cases:
        if prior.regimen_id == regimen_id and prior.s0353_awarded_on is not None:
            return prior.s0353_awarded_on
    return None


def _s0354(regimen: Regimen, start: date, valid_from: date, end: date) -> SCode | None:
    """Monthly from `valid_from` to the end of the course ordered (its last administration,
    or six months when open-ended)."""
    months = whole_months(valid_from, end)
    if months < 1:
        return None
    span = "the planned cycles" if fixed_days(regimen) is not None else "at most 6 months; then a new request"
    return SCode("S0354", valid_from, end, months,
                 f"at most monthly, for {span}; not within 30 days of S0353")
