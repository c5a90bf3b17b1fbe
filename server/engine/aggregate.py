"""R17 case status from the drug statuses, and R10 turnaround when pended."""
from __future__ import annotations

from datetime import datetime, timedelta

from server.domain.decision import CaseStatus, DrugStatus, Reason
from server.domain.order import Order, Urgency

from .context import Case
from .dates import add_business_days

URGENT_HOURS = 24
STANDARD_BUSINESS_DAYS = 3
NOT_PENDING = frozenset({"policy-met"})   # kept on a held drug for the reviewer, not a pend cause
CEILING = {Urgency.URGENT: timedelta(hours=72), Urgency.STANDARD: timedelta(days=7)}


def apply_case_pends(case: Case) -> None:
    """A pend on the case (deviation, duplicate, provider, date) holds every open managed drug."""
    if not case.case_pends:
        return
    for w in case.managed_open():
        if w.status is DrugStatus.AUTHORIZED:
            case.trace.add("R17", f"{w.key}: policy met but held with the case for review")
        w.status = DrugStatus.IN_PROGRESS
        for reason in case.case_pends:
            if reason not in w.reasons:
                w.reasons.append(reason)


def case_status(case: Case) -> CaseStatus:
    statuses = [w.status for w in case.drugs]
    if (case.custom_plan and any(w.managed for w in case.drugs)) or DrugStatus.IN_PROGRESS in statuses:
        return CaseStatus.IN_PROGRESS
    if DrugStatus.AUTHORIZED in statuses:
        return CaseStatus.AUTHORIZED
    return CaseStatus.COMPLETED


def pend_reasons(case: Case) -> tuple[Reason, ...]:
    out: list[Reason] = []
    for w in case.drugs:
        if w.status is DrugStatus.IN_PROGRESS:
            out.extend(r for r in w.reasons if r not in out and r.code not in NOT_PENDING)
    out.extend(r for r in case.case_pends if r not in out)
    return tuple(out)


def due_by(order: Order) -> datetime:
    """R10: urgent within 24 h; standard within 3 business days; never past the federal ceiling."""
    received = order.received_at
    if order.urgency is Urgency.URGENT:
        due = received + timedelta(hours=URGENT_HOURS)
    else:
        due = add_business_days(received, STANDARD_BUSINESS_DAYS)
    return min(due, received + CEILING[order.urgency])
