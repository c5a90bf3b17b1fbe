"""The review engine: one Order in, one Decision out (pure: no clock, no I/O, no randomness).

The steps run in the program's order; each records what it did in the trace:
resolve → R12 eligibility → R9 dates → R13 providers → R14 trials → R2 pharmacy →
R7 supportive-only → R4 pathway match → R5 deviations → R6 FN risk → R8 duplicates →
R3 medical policy → R17 status / R10 due-by → R15 S-codes → R16 figures → R19 / R20.
"""
from __future__ import annotations

from dataclasses import replace

from server.domain.decision import Benefit, CaseStatus, Decision, DrugDecision, DrugStatus
from server.domain.order import History, Order
from server.knowledge.model import Knowledge

from . import aggregate, deviations, duplicates, eligibility, fn_risk, matching, policy, precision, resolve, \
    scodes, supportive
from .context import Case, DrugWork
from .figures import billing_code, figures_for
from .trace import Trace


def decide(order: Order, knowledge: Knowledge, history: History | None = None) -> Decision:
    history = history or History.empty()
    trace = Trace()
    trace.add("R18", f"knowledge base {knowledge.version} (effective {knowledge.effective.isoformat()}, "
                     f"reviewed {knowledge.reviewed.isoformat()})")
    trace.add("R1", f"regimen reviewed as a whole: {len(order.drugs)} drug line(s) evaluated together")
    dos, dos_notice = eligibility.date_of_service(order, trace)
    case = Case(order=order, kb=knowledge, history=history, trace=trace, date_of_service=dos)
    if dos_notice:
        case.notice(dos_notice)
    resolve.resolve_drugs(case)
    resolve.resolve_cancer(case)

    excluded = eligibility.program_exclusion(case)
    if excluded is not None:
        return _outside_program(case, *excluded)

    eligibility.retrospective_check(case)
    eligibility.provider_checks(case)
    eligibility.trial_drugs(case)
    eligibility.pharmacy_benefit(case)
    eligibility.non_drug_services(case)
    eligibility.unknown_drugs(case)
    supportive.supportive_only_review(case)
    matching.match_regimen(case)
    matching.find_alternatives(case)
    deviations.schedule_deviations(case)
    deviations.dose_warnings(case)
    fn_risk.fn_risk_review(case)
    duplicates.duplicate_check(case)
    policy.policy_review(case)
    aggregate.apply_case_pends(case)

    status = aggregate.case_status(case)
    pended = status is CaseStatus.IN_PROGRESS
    due = aggregate.due_by(order) if pended else None
    trace.add("R17", f"case status {status.value}")
    if due is not None:
        trace.add("R10", f"{order.urgency.value} request pended: decision due by {due.isoformat()}")
    if pended and case.pathway is not None and case.pathway.pathway_eligible_id is not None:
        # FAQ: an In Progress case has "pathway eligibility not determined"; the reviewer's
        # approval awards it. The regimen match stays so the reviewer sees it.
        case.pathway = replace(case.pathway, pathway_eligible_id=None)
        trace.add("R4", f"{case.pathway.regimen_id}: pathway eligibility deferred to clinical review")
    s_codes = scodes.award_s_codes(case, pended)
    drugs = tuple(_drug_decision(case, w) for w in case.drugs)
    benefits = precision.precision_benefits(case)
    pointers = precision.trial_pointers(case)
    return Decision(
        case_status=status,
        drugs=drugs,
        kb_version=knowledge.version,
        in_program=True,
        trace=trace.steps(),
        cancer_type=case.cancer.key if case.cancer else None,
        pathway=case.pathway,
        deviations=tuple(case.deviations),
        alternatives=tuple(case.alternatives),
        s_codes=s_codes,
        precision_benefits=benefits,
        trial_pointers=pointers,
        pend_reasons=aggregate.pend_reasons(case) if pended else (),
        notices=tuple(case.notices),
        due_by=due,
        duplicate_of=case.duplicate_of,
    )


def _drug_decision(case: Case, w: DrugWork) -> DrugDecision:
    drug = w.drug
    status = w.status or DrugStatus.IN_PROGRESS   # never left undecided: unknown pends
    fields = dict(
        ref=w.line.ref, drug_key=w.key, display=w.display, status=status, reasons=tuple(w.reasons),
        managed=w.managed, benefit=(Benefit.PHARMACY if w.oral else drug.benefit) if drug else None,
        hcpcs=_billing_code(w), contact=w.contact,
    )
    if status is DrugStatus.AUTHORIZED:
        fig = figures_for(w, case.regimen, case.date_of_service, case=case)
        fields.update(authorized_from=fig.authorized_from, authorized_to=fig.authorized_to,
                      visits=fig.visits, billing_units=fig.billing_units)
        case.trace.add("R16", f"{w.key}: authorized {fig.authorized_from}..{fig.authorized_to}, "
                              f"HCPCS {fig.hcpcs or '-'}, visits {fig.visits if fig.visits is not None else '-'}, "
                              f"billing units {fig.billing_units if fig.billing_units is not None else '-'}")
    return DrugDecision(**fields)


def _billing_code(w: DrugWork) -> str | None:
    """The drug's HCPCS code for the form ordered: the product code the request names (a
    biosimilar), else the originator's; an oral form never gets an injection code."""
    if w.drug is None or not w.drug.hcpcs:
        return None
    if not w.oral:
        h = billing_code(w)
        return h.code if h else None
    oral = [h.code for h in w.drug.hcpcs if "oral" in h.description.lower()]
    return oral[0] if oral else None


def _outside_program(case: Case, reason, drug_status: DrugStatus) -> Decision:
    """R12: not the program's to review: every drug is referred or needs no review here."""
    contact = "health plan" if drug_status is DrugStatus.REFER_TO_HEALTH_PLAN else None
    drugs = tuple(
        DrugDecision(ref=w.line.ref, drug_key=w.key, display=w.display, status=drug_status,
                     reasons=(reason,), managed=False, benefit=w.drug.benefit if w.drug else None,
                     hcpcs=_billing_code(w), contact=contact)
        for w in case.drugs)
    case.trace.add("R17", f"case status {CaseStatus.COMPLETED.value}: not in program ({reason.code})")
    return Decision(
        case_status=CaseStatus.COMPLETED, drugs=drugs, kb_version=case.kb.version, in_program=False,
        trace=case.trace.steps(), cancer_type=case.cancer.key if case.cancer else None,
        notices=tuple(case.notices), program_reason=reason,
    )
