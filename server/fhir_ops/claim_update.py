"""PAS updates and cancels of a case on file (PAS specification: "Updates", "Cancel").

- Every item certificationType 3 ⇒ the whole case is withdrawn: each drug Voluntarily
  Cancelled, case status Review Cancelled (the closest R17 case status), items answer C.
- Some items certificationType 3 ⇒ those drugs Voluntarily Cancelled; the rest of the regimen
  (with any added drug, e.g. a supportive one) is decided again as a whole (R1, R7).
- Any other update ⇒ a new decision for the whole case, same Order ID.
- A denied case (Non-Authorized) cannot be updated (PAS: denials cannot be updated; R11:
  reconsideration or appeal instead) ⇒ 422; nor can a cancelled one.
History for the new decision leaves the case itself out (it is not its own duplicate, R8).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from mappings.pas_response import render_claim_response_bundle
from server.domain.decision import CaseStatus, Decision, DrugDecision, DrugStatus, Reason
from server.errors import Issue, Unprocessable
from server.fhir_ops import pas_validate
from server.store import CaseRecord, CaseStore

_CLOSED = {CaseStatus.NON_AUTHORIZED.value: "a denied (Non-Authorized) case cannot be updated; "
                                            "ask for a reconsideration or appeal instead",
           CaseStatus.REVIEW_CANCELLED.value: "a cancelled case cannot be updated; submit a new request"}

_CANCEL_REASON = Reason("voluntarily-cancelled", "Cancelled by the provider (certificationType 3).")


def cancelled_refs(claim: dict) -> set[str]:
    return {f"item/{item.get('sequence')}" for item in claim.get("item") or []
            if pas_validate.certification_type(item) == pas_validate.CERTIFICATION_CANCEL}


def _cancelled_drug(ref: str, prior: Decision | None) -> DrugDecision:
    earlier = prior.drug(ref) if prior else None
    if earlier is not None:
        return replace(earlier, status=DrugStatus.VOLUNTARILY_CANCELLED, reasons=(_CANCEL_REASON,),
                       authorized_from=None, authorized_to=None, billing_units=None, visits=None)
    return DrugDecision(ref=ref, drug_key=None, display=ref, status=DrugStatus.VOLUNTARILY_CANCELLED,
                        reasons=(_CANCEL_REASON,))


def cancel_whole_case(prior: Decision, refs: set[str]) -> Decision:
    drugs = [_cancelled_drug(d.ref, prior) for d in prior.drugs]
    drugs += [_cancelled_drug(r, prior) for r in sorted(refs) if prior.drug(r) is None]
    withdrawn = Reason("voluntarily-cancelled",
                       "Withdrawn by the provider: every item cancelled (certificationType 3).")
    return replace(prior, case_status=CaseStatus.REVIEW_CANCELLED, drugs=tuple(drugs), s_codes=(),
                   pend_reasons=(), due_by=None, notices=(withdrawn,), deviations=(), alternatives=(),
                   precision_benefits=(), trial_pointers=())


def apply(bundle: dict, claim: dict, prior: CaseRecord, *, key: str, store: CaseStore, knowledge: Any,
          received_at: datetime, base_url: str | None) -> dict:
    from server.fhir_ops.claim_submit import decide, map_order

    if prior.status in _CLOSED:
        raise Unprocessable(Issue("business-rule", f"case {prior.order_id}: {_CLOSED[prior.status]}",
                                  expression=[f"{pas_validate.CLAIM_PATH}.related"]))
    prior_decision = prior.decision_obj()
    refs = cancelled_refs(claim)
    all_refs = {f"item/{item.get('sequence')}" for item in claim.get("item") or []}

    if refs and refs == all_refs:
        order = prior.order_obj()
        decision = cancel_whole_case(prior_decision, refs)
        kind, note = "cancelled", "all items cancelled by the provider"
    else:
        order = map_order(bundle, received_at)
        if prior.member_id and order.member.id != prior.member_id:
            raise Unprocessable(Issue("business-rule", f"case {prior.order_id} is for another member",
                                      expression=[f"{pas_validate.CLAIM_PATH}.patient"]))
        if refs:
            order = replace(order, drugs=tuple(d for d in order.drugs if d.ref not in refs))
        history = store.history_for_member(order.member.id, exclude_order_id=prior.order_id)
        decision = decide(order, knowledge, history)
        if refs:
            decision = replace(decision, drugs=decision.drugs + tuple(
                _cancelled_drug(r, prior_decision) for r in sorted(refs)))
        kind = "updated"
        note = f"update; cancelled {', '.join(sorted(refs))}" if refs else "update"

    record = store.update_case(
        prior.order_id, request_key=key, order=order, decision=decision, raw_request=bundle,
        kind=kind, note=note,
        render_response=lambda order_id: render_claim_response_bundle(
            decision, order_id, bundle, created=received_at, base_url=base_url,
            revision=prior.revision + 1))
    return record.response
