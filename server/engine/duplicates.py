"""R8: a similar request on file with overlapping dates ⇒ Duplicate Order notice and review."""
from __future__ import annotations

from datetime import date

from server.domain.decision import CaseStatus, DrugStatus, Reason
from server.domain.order import ehr_order_refs

from .context import Case
from .dates import add_months
from .regimens import regimen_end

_INACTIVE = frozenset({CaseStatus.REVIEW_CANCELLED.value, DrugStatus.VOLUNTARILY_CANCELLED.value})


def duplicate_check(case: Case) -> None:
    managed = {w.key for w in case.drugs if w.managed}
    if not managed:
        return
    start = case.date_of_service
    end = regimen_end(case.regimen, start)
    refs = ehr_order_refs(w.line.ref for w in case.drugs)
    for prior in case.history.prior_cases:
        if prior.status in _INACTIVE or prior.request_id == case.order.request_id:
            continue
        if refs & prior.order_refs:
            # The same EHR order signed again (order-sign fires on re-sign): not a second order.
            case.trace.add("R8", f"Order ID {prior.order_id} was made from the same EHR order(s): "
                                 f"a re-submission, not a duplicate")
            continue
        shared = managed & set(prior.drug_keys)
        if not shared or not _overlaps(prior.start, prior.end, start, end):
            continue
        case.duplicate_of = prior.order_id
        # The order's own providers: the ordering one (CDS cases are filed under it) and the
        # servicing one (a PAS Claim.provider, often the organisation, files the case).
        own = {p.npi for p in (case.order.ordering_provider, case.order.servicing_provider) if p and p.npi}
        if prior.provider_npi and prior.provider_npi in own:
            text = (f"Duplicate Order: similar request on file (Order ID {prior.order_id}): "
                    f"{', '.join(sorted(shared))} with overlapping dates")
            whose = "this provider's"
        else:
            # Another provider's order: its Order ID and drugs are that provider's to see (with
            # the public NPI the Order ID opens its summary); the reviewer sees them in the trace.
            text = "Duplicate Order: a similar request is on file with another provider"
            whose = "another provider's"
        reason = Reason("duplicate-order", text, "R8")
        case.notice(reason)
        case.pend(reason)
        case.trace.add("R8", f"possible duplicate of Order ID {prior.order_id} ({whose}, {prior.status}): "
                             f"pended for RN review")
        return
    case.trace.add("R8", "no similar request on file with overlapping dates")


def _overlaps(p_start: date | None, p_end: date | None, start: date, end: date) -> bool:
    if p_start is None:
        return True          # dates unknown: let a reviewer look
    p_end = p_end or add_months(p_start, 6)
    return p_start <= end and start <= p_end
