"""R7: a supportive-only request pends for review of the patient's prior regimen history."""
from __future__ import annotations

from server.domain.decision import DrugStatus, Reason
from server.knowledge.model import DrugCategory

from .context import Case, DrugWork


def supportive_only_review(case: Case) -> None:
    reviewed = case.reviewed()
    by_flag = case.order.supportive_only
    by_content = bool(reviewed) and all(_supportive_type(w) for w in reviewed)
    if not (by_flag or by_content):
        return
    case.supportive_only = True
    prior = case.order.prior_order_id
    if prior:
        on_file = any(p.order_id == prior for p in case.history.prior_cases)
        ref = f"; refers to Order ID {prior} ({'on file' if on_file else 'not found on file'})"
    else:
        ref = "; no prior Order ID referenced"
    text = "supportive-only request: pended for review of prior regimen history" + ref
    how = "acknowledged by the requester" if by_flag else "every reviewed drug is supportive"
    case.trace.add("R7", f"supportive-only request ({how}){ref}")
    for w in case.managed_open():
        if _supportive_type(w) and w.status is None:
            w.settle(DrugStatus.IN_PROGRESS, Reason("supportive-only", text, "R7"))


def _supportive_type(w: DrugWork) -> bool:
    """Supportive by the order's role, or by the drug's category when the order calls it otherwise."""
    return w.supportive or w.drug.category is DrugCategory.SUPPORTIVE
