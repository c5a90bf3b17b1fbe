"""R17 case status from the drug statuses, and R10 turnaround when pended.

Which pends hold which drugs (README, "Supportive drugs and companions"):
- a case-level pend (custom plan, unknown pathway criterion, schedule deviation, duplicate,
  provider, date) holds every open managed drug;
- a pend raised for one supportive drug (a growth factor against the regimen's FN risk, R6)
  holds that drug only: it never holds back therapeutic drugs that meet policy;
- a drug pended on its own policy (R3) pends the case, while its companions that meet their own
  policy stay Authorized (the reviewer decides the pended one);
- a non-managed drug (oral / pharmacy benefit, Other Impact) never changes the managed drugs' answer.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from server.domain.decision import CaseStatus, DrugStatus, Reason
from server.domain.order import Order, Urgency

from server.knowledge.model import DrugCategory

from .context import Case
from .dates import add_business_days

URGENT_HOURS = 24
STANDARD_BUSINESS_DAYS = 3
NOT_PENDING = frozenset({"policy-met"})   # kept on a held drug for the reviewer, not a pend cause
CEILING = {Urgency.URGENT: timedelta(hours=72), Urgency.STANDARD: timedelta(days=7)}


def apply_case_pends(case: Case) -> None:
    """A pend on the case holds every open managed drug; a pend raised for one supportive drug
    (its deviation names the drug) holds that drug only."""
    if not case.case_pends:
        return
    scoped = _drug_scoped_pends(case)
    for w in case.managed_open():
        reasons = [r for r in case.case_pends if scoped.get(r) in (None, w.key)]
        if not reasons:
            continue
        if w.status is DrugStatus.AUTHORIZED:
            case.trace.add("R17", f"{w.key}: policy met but held with the case for review")
        w.status = DrugStatus.IN_PROGRESS
        for reason in reasons:
            if reason not in w.reasons:
                w.reasons.append(reason)


def _drug_scoped_pends(case: Case) -> dict[Reason, str]:
    """Pend reasons that belong to one supportive drug (e.g. R6 on a growth factor)."""
    supportive = {w.key for w in case.drugs if w.drug is not None and _is_supportive(w)}
    out: dict[Reason, str] = {}
    for d in case.deviations:
        if d.severity.value == "pend" and d.drug_key in supportive:
            out[Reason(d.kind.value, d.text, d.rule)] = d.drug_key
    return out


def _is_supportive(w) -> bool:
    return w.supportive or w.drug.category is DrugCategory.SUPPORTIVE


def case_status(case: Case) -> CaseStatus:
    status = case_status_of(
        [w.status or DrugStatus.IN_PROGRESS for w in case.drugs],
        [w.drug is not None and _is_supportive(w) for w in case.drugs])
    if case.custom_plan and any(w.managed for w in case.drugs):
        return CaseStatus.IN_PROGRESS
    return status


def case_status_of(statuses: Sequence[DrugStatus], supportive: Iterable[bool] | None = None, *,
                   cancelled: bool = False) -> CaseStatus:
    """THE case status (R17) from the drug statuses, for the engine and for reviewer outcomes.

    `supportive` gives one flag per status (True = a supportive drug: growth factor, ESA, bone
    agent, antiemetic). Rules, in order (seed 001, FAQ "case status"):
    - cancelled (confirmed duplicate) ⇒ Review Cancelled;
    - any drug In Progress ⇒ In Progress (the case stays open until every drug is decided; drugs
      already Authorized keep their authorization);
    - some drugs Authorized and some Non-authorized (a reviewer's decision; the engine never
      produces Non-authorized):
        * every denied drug supportive and a therapeutic drug authorized ⇒ Multiple Decisions Rendered;
        * a therapeutic drug denied ⇒ Non-Authorized ("the entire case is denied");
        * no supportive flags given ⇒ Multiple Decisions Rendered (the mix is all that is known);
    - only Non-authorized among the decided drugs ⇒ Non-Authorized;
    - some Authorized ⇒ Authorized; nothing of the program's to authorize ⇒ Completed.

    A superset of server/review/decisions.py:case_status_of, which it can replace: called with
    the reviewed DrugDecisions' statuses and their supportive flags it gives the same answers,
    and it also covers cancelled cases and callers that cannot tell supportive drugs apart.
    """
    statuses = list(statuses)
    flags = list(supportive) if supportive is not None else None
    if cancelled:
        return CaseStatus.REVIEW_CANCELLED
    if DrugStatus.IN_PROGRESS in statuses:
        return CaseStatus.IN_PROGRESS
    denied = [i for i, s in enumerate(statuses) if s is DrugStatus.NON_AUTHORIZED]
    authorized = [i for i, s in enumerate(statuses) if s is DrugStatus.AUTHORIZED]
    if denied and authorized:
        if flags is None or len(flags) != len(statuses):
            return CaseStatus.MULTIPLE_DECISIONS
        if all(flags[i] for i in denied) and any(not flags[i] for i in authorized):
            return CaseStatus.MULTIPLE_DECISIONS
        return CaseStatus.NON_AUTHORIZED
    if denied:
        return CaseStatus.NON_AUTHORIZED
    if authorized:
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
