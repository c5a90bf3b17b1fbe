"""Every change to a Decision after `decide`: pure transitions, each returning a new Decision
with its trace (reviewer approve / deny / cancel duplicate / reconsideration; the provider's
voluntary cancellation of some items or of the whole request).

An approval reuses the engine's own steps — `figures_for` (R16 authorized window, visits,
billing units), `scodes.award_s_codes` (R15), `matching.pathway_eligible_id` (R4) — on a working
`Case` rebuilt from the stored order, so a reviewer's approval awards exactly what `decide`
would have awarded had the case met criteria at once.

Case status after a decision (R17, seed 001 §8):
- a drug still In Progress ⇒ In Progress;
- therapeutic drugs authorized and only supportive drugs denied ⇒ Multiple Decisions Rendered;
- any other denial ⇒ Non-Authorized (not pathway-eligible, no S-codes);
- authorized drugs ⇒ Authorized; nothing of ours to authorize ⇒ Completed.
"""
from __future__ import annotations

from dataclasses import replace

from server.domain.decision import CaseStatus, Decision, DrugDecision, DrugStatus, Reason, TraceStep
from server.domain.order import DrugRole, History, Order
from . import aggregate, eligibility, resolve, scodes
from .context import Candidate, Case, DrugWork
from .figures import figures_for
from .matching import pathway_eligible_id
from .trace import Trace
from server.errors import Conflict, Issue, Unprocessable
from server.knowledge.model import DrugCategory, Knowledge, Pathway, Regimen

REVIEW_RULE = "review"


def pending_refs(decision: Decision) -> list[str]:
    return [d.ref for d in decision.drugs if d.status is DrugStatus.IN_PROGRESS]


def _select(decision: Decision, refs, statuses: set[DrugStatus], verb: str) -> list[str]:
    """The drug refs an action applies to: all drugs in `statuses` when refs is empty."""
    eligible = [d.ref for d in decision.drugs if d.status in statuses]
    if not refs:
        if not eligible:
            raise Conflict(Issue("business-rule", f"no drug on this case can be {verb}"))
        return eligible
    known = {d.ref: d for d in decision.drugs}
    for ref in refs:
        if ref not in known:
            raise Unprocessable(Issue("value", f"drug {ref!r} is not on this case", expression=["drugs"]))
        if ref not in eligible:
            raise Conflict(Issue("business-rule", f"drug {ref} is {known[ref].status.value}: it cannot be {verb}"))
    return list(dict.fromkeys(refs))


def _find_regimen(kb: Knowledge, pathway_id: str, regimen_id: str) -> tuple[Pathway, Regimen] | None:
    for p in kb.pathways:
        if p.id == pathway_id:
            for r in p.regimens:
                if r.id == regimen_id:
                    return p, r
    return None


def _engine_case(decision: Decision, order: Order, kb: Knowledge, history: History) -> tuple[Case, Trace]:
    trace = Trace()
    dos, _notice = eligibility.date_of_service(order, trace)
    case = Case(order=order, kb=kb, history=history, trace=trace, date_of_service=dos)
    resolve.resolve_drugs(case)
    if decision.pathway is not None:
        found = _find_regimen(kb, decision.pathway.pathway_id, decision.pathway.regimen_id)
        if found is not None:
            case.candidate = Candidate(pathway=found[0], regimen=found[1], checks=[])
    return case, trace


def _is_supportive(d: DrugDecision, order: Order, kb: Knowledge) -> bool:
    line = next((l for l in order.drugs if l.ref == d.ref), None)
    if line is not None and line.role is not DrugRole.UNKNOWN:
        return line.role is DrugRole.SUPPORTIVE
    drug = kb.drugs.get(d.drug_key) if d.drug_key else None
    return drug is not None and drug.category is DrugCategory.SUPPORTIVE


def case_status_of(drugs, order: Order, kb: Knowledge) -> CaseStatus:
    statuses = [d.status for d in drugs]
    if DrugStatus.IN_PROGRESS in statuses:
        return CaseStatus.IN_PROGRESS
    denied = [d for d in drugs if d.status is DrugStatus.NON_AUTHORIZED]
    authorized = [d for d in drugs if d.status is DrugStatus.AUTHORIZED]
    if denied:
        if authorized and all(_is_supportive(d, order, kb) for d in denied) \
                and any(not _is_supportive(d, order, kb) for d in authorized):
            return CaseStatus.MULTIPLE_DECISIONS
        return CaseStatus.NON_AUTHORIZED
    if authorized:
        return CaseStatus.AUTHORIZED
    return CaseStatus.COMPLETED


def _settle(decision: Decision, drugs: tuple[DrugDecision, ...], order: Order, kb: Knowledge,
            history: History, steps: list[TraceStep]) -> Decision:
    """Case status, Pathway Eligible ID and S-codes once drug statuses changed."""
    status = case_status_of(drugs, order, kb)
    steps.append(TraceStep("R17", f"case status {status.value} after clinical review"))
    pathway, s_codes = decision.pathway, ()
    if status in (CaseStatus.AUTHORIZED, CaseStatus.MULTIPLE_DECISIONS) and pathway is not None:
        if pathway.pathway_eligible_id is None:
            pe_id = pathway_eligible_id(order.request_id, pathway.regimen_id, pathway.kb_version)
            pathway = replace(pathway, pathway_eligible_id=pe_id)
            steps.append(TraceStep("R4", f"on pathway after clinical review: {pathway.regimen_name}; "
                                         f"Pathway Eligible ID {pe_id}"))
        case, trace = _engine_case(decision, order, kb, history)
        if case.regimen is None:
            steps.append(TraceStep("R15", f"no S-codes: regimen {pathway.regimen_id} is not in knowledge base "
                                          f"{kb.version}"))
        else:
            case.pathway = pathway
            s_codes = scodes.award_s_codes(case, pended=False)
            steps.extend(s for s in trace.steps() if s.rule == "R15")
    elif status is CaseStatus.NON_AUTHORIZED and pathway is not None and pathway.pathway_eligible_id:
        pathway = replace(pathway, pathway_eligible_id=None)
        steps.append(TraceStep("R4", "non-authorized cases are not eligible for pathways"))
    pended = status is CaseStatus.IN_PROGRESS
    if pended:
        pathway = replace(pathway, pathway_eligible_id=None) if pathway is not None else None
        s_codes = ()
    return replace(decision, case_status=status, drugs=drugs, pathway=pathway, s_codes=s_codes,
                   pend_reasons=decision.pend_reasons if pended else (),
                   trace=decision.trace + tuple(steps))


def approve(decision: Decision, order: Order, kb: Knowledge, history: History, *, refs=(),
            quantities: dict[str, float] | None = None, reviewer: str) -> tuple[Decision, list[str]]:
    """Authorize pended drugs (all of them when refs is empty); a quantity lower or higher than
    requested is a modified approval (A6). Returns the new Decision and the refs approved."""
    chosen = _select(decision, refs, {DrugStatus.IN_PROGRESS}, "approved")
    quantities = quantities or {}
    for ref in quantities:
        if ref not in chosen:
            raise Unprocessable(Issue("value", f"a quantity was given for {ref}, which is not being approved",
                                      expression=["quantities"]))
    case, _trace = _engine_case(decision, order, kb, history)
    work: dict[str, DrugWork] = {w.line.ref: w for w in case.drugs}
    steps: list[TraceStep] = []
    drugs = []
    for d in decision.drugs:
        if d.ref not in chosen:
            drugs.append(d)
            continue
        w = work.get(d.ref)
        fields = {"status": DrugStatus.AUTHORIZED,
                  "reasons": d.reasons + (Reason("reviewer-approved", f"approved on clinical review by {reviewer}",
                                                 REVIEW_RULE),)}
        if w is not None:
            fig = figures_for(w, case.regimen, case.date_of_service)
            fields.update(authorized_from=fig.authorized_from, authorized_to=fig.authorized_to, visits=fig.visits,
                          billing_units=fig.billing_units, hcpcs=d.hcpcs or fig.hcpcs)
        if d.ref in quantities:
            fields["billing_units"] = float(quantities[d.ref])
        new = replace(d, **fields)
        steps.append(TraceStep(REVIEW_RULE, f"{d.drug_key or d.ref}: authorized by {reviewer}"
                                            + (f", modified to {new.billing_units:g} billing units"
                                               if d.ref in quantities else "")))
        drugs.append(new)
    return _settle(decision, tuple(drugs), order, kb, history, steps), chosen


def deny(decision: Decision, order: Order, kb: Knowledge, history: History, *, refs=(), reason: str,
         reviewer: str) -> tuple[Decision, list[str]]:
    """A physician's adverse determination with its specific reason (R10, CMS-0057-F)."""
    chosen = _select(decision, refs, {DrugStatus.IN_PROGRESS}, "denied")
    why = Reason("reviewer-denied", f"Not authorized on clinical review: {reason}", REVIEW_RULE)
    drugs = tuple(replace(d, status=DrugStatus.NON_AUTHORIZED, reasons=d.reasons + (why,),
                          authorized_from=None, authorized_to=None, visits=None, billing_units=None)
                  if d.ref in chosen else d for d in decision.drugs)
    steps = [TraceStep(REVIEW_RULE, f"{', '.join(chosen)}: denied by physician {reviewer}: {reason}")]
    return _settle(decision, drugs, order, kb, history, steps), chosen


def cancel_duplicate(decision: Decision, *, note: str, reviewer: str) -> Decision:
    """R8: a confirmed duplicate ⇒ Review Cancelled; its open drugs are not reviewed."""
    why = Reason("duplicate-confirmed", f"Review cancelled: duplicate of an order on file. {note}".strip(), "R8")
    drugs = tuple(replace(d, status=DrugStatus.NOT_REVIEWED, reasons=d.reasons + (why,))
                  if d.status is DrugStatus.IN_PROGRESS else d for d in decision.drugs)
    return _review_cancelled(decision, drugs, decision.notices + (why,),
                             TraceStep(REVIEW_RULE, f"duplicate confirmed by {reviewer}: Review Cancelled"))


VOLUNTARY_CANCEL = Reason("voluntarily-cancelled", "Cancelled by the provider (certificationType 3).")


def cancelled_drug(ref: str, prior: Decision | None) -> DrugDecision:
    """A drug line the provider withdrew: Voluntarily Cancelled, nothing authorized for it."""
    earlier = prior.drug(ref) if prior else None
    if earlier is not None:
        return replace(earlier, status=DrugStatus.VOLUNTARILY_CANCELLED, reasons=(VOLUNTARY_CANCEL,),
                       authorized_from=None, authorized_to=None, billing_units=None, visits=None)
    return DrugDecision(ref=ref, drug_key=None, display=ref, status=DrugStatus.VOLUNTARILY_CANCELLED,
                        reasons=(VOLUNTARY_CANCEL,))


def cancel_request(prior: Decision, refs: set[str]) -> Decision:
    """The provider withdrew every item: each drug Voluntarily Cancelled, the case Review
    Cancelled (the closest R17 case status)."""
    drugs = [cancelled_drug(d.ref, prior) for d in prior.drugs]
    drugs += [cancelled_drug(r, prior) for r in sorted(refs) if prior.drug(r) is None]
    withdrawn = Reason("voluntarily-cancelled",
                       "Withdrawn by the provider: every item cancelled (certificationType 3).")
    return _review_cancelled(prior, tuple(drugs), (withdrawn,),
                             TraceStep("R17", "every item cancelled by the provider: Review Cancelled"),
                             clear_findings=True)


def with_cancelled_items(decision: Decision, prior: Decision | None, refs: set[str]) -> Decision:
    """A new decision for the rest of the regimen, with the items the provider withdrew
    recorded as Voluntarily Cancelled."""
    if not refs:
        return decision
    return replace(decision, drugs=decision.drugs + tuple(cancelled_drug(r, prior) for r in sorted(refs)))


def _review_cancelled(decision: Decision, drugs: tuple[DrugDecision, ...], notices: tuple[Reason, ...],
                      step: TraceStep, *, clear_findings: bool = False) -> Decision:
    """The one place a case becomes Review Cancelled: nothing pends, nothing is pathway-eligible,
    no S-codes."""
    findings = dict(deviations=(), alternatives=(), precision_benefits=(), trial_pointers=()) \
        if clear_findings else {}
    return replace(decision, case_status=CaseStatus.REVIEW_CANCELLED, drugs=drugs, s_codes=(), pend_reasons=(),
                   due_by=None, notices=notices,
                   pathway=replace(decision.pathway, pathway_eligible_id=None) if decision.pathway else None,
                   trace=decision.trace + (step,), **findings)


def reopen(decision: Decision, order: Order, kb: Knowledge, *, reviewer: str, note: str, now) -> Decision:
    """R11 reconsideration: the denied drugs go back to review, with a new R10 due-by counted
    from the reconsideration request."""
    back = Reason("reconsideration", f"Reconsideration requested: {note}".strip().rstrip(":"), "R11")
    drugs = tuple(replace(d, status=DrugStatus.IN_PROGRESS, reasons=d.reasons + (back,))
                  if d.status is DrugStatus.NON_AUTHORIZED else d for d in decision.drugs)
    due = aggregate.due_by(replace(order, received_at=now))
    return replace(decision, case_status=CaseStatus.IN_PROGRESS, drugs=drugs, s_codes=(), due_by=due,
                   pathway=replace(decision.pathway, pathway_eligible_id=None) if decision.pathway else None,
                   pend_reasons=(back,),
                   trace=decision.trace + (TraceStep("R11", f"reconsideration opened by {reviewer}; "
                                                            f"decision due by {due.isoformat()}"),))
