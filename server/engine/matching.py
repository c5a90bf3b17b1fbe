"""R4: match the regimen as a whole against the pathways for the cancer type.

Lookup goes through the knowledge base's indexes (cancer type + therapeutic drug set), so
the cost does not grow with the number of pathways in the knowledge base.
"""
from __future__ import annotations

import hashlib

from server.domain.decision import Alternative, Deviation, DeviationKind, DrugStatus, PathwayMatch, Reason, Severity
from server.domain.order import BiomarkerResult, DrugRole
from server.knowledge.model import DrugCategory, Pathway, Regimen

from .context import Candidate, Case
from .criteria import Check, pathway_checks, regimen_checks

MAX_ALTERNATIVES = 3


def therapeutic_set(case: Case) -> frozenset[str]:
    """Resolved, non-investigational, non-supportive drugs, pharmacy ones included (R1)."""
    return frozenset(w.key for w in case.reviewed() if not w.supportive)


def pathway_eligible_id(request_id: str, regimen_id: str, kb_version: str) -> str:
    digest = hashlib.sha256(f"{request_id}|{regimen_id}|{kb_version}".encode()).hexdigest()
    return "PE-" + digest[:10].upper()


def match_regimen(case: Case) -> None:
    drugset = therapeutic_set(case)
    if case.supportive_only:
        drugset = frozenset(k for k in drugset if case.kb.drugs[k].category is not DrugCategory.SUPPORTIVE)
    if not drugset:
        case.trace.add("R4", "no therapeutic drug to match against a pathway")
        return
    names = ", ".join(sorted(drugset))
    if case.cancer is None:
        _custom(case, f"no pathway for this diagnosis: the combination ({names}) cannot be matched "
                      "to an evidence-based regimen")
        return
    candidates: list[Candidate] = []
    for variant in _drugset_variants(case, drugset):
        candidates = _candidates(case, variant)
        if candidates:
            if variant != drugset:
                case.trace.add("R4", f"matched with the drug set {', '.join(sorted(variant))}: supportive-type "
                                     "drugs counted by their role in the regimen")
            break
    if not candidates:
        _custom(case, f"the combination ({names}) cannot be matched to an evidence-based regimen for "
                      f"{case.cancer.name}")
        return
    # Criteria first, then the schedule that fits (dose-dense vs q21 AC share one drug set);
    # min() is stable, so knowledge-base order (preference) breaks the remaining ties.
    best = min(candidates, key=lambda c: (c.rank, _schedule_misfits(case, c.regimen), len(c.unanswered)))
    case.candidate = best
    p, r = best.pathway, best.regimen
    case.trace.add("R4", f"{len(candidates)} candidate regimen(s); best: {r.id} on pathway {p.id}")
    for check in best.checks:
        state = {True: "met", False: "not met", None: "unknown"}[check.status]
        case.trace.add("R4", f"{p.id}: {check.required} -> {state} ({check.reported})"
                             + (f"; evidence {check.evidence}" if check.evidence else ""))
    if best.failed:
        for check in best.failed:
            case.deviate(Deviation(_mismatch_kind(check), Severity.WARNING,
                                   f"{check.reported}; pathway {p.name} requires {check.required}"))
        case.trace.add("R4", f"off pathway: {r.name} does not meet {p.name}; may still be authorized "
                             "under medical policy, without enhanced reimbursement")
        case.notice(Reason("off-pathway", f"{r.name} is not on pathway for this patient: it may be authorized "
                                          "under medical policy, without enhanced reimbursement (no Pathway "
                                          "Eligible ID, no S-codes)", "R4"))
        return
    pe_id = None
    unrecognized = [w.line.ref for w in case.drugs if w.drug is None and w.status is DrugStatus.IN_PROGRESS]
    if best.unknown:
        for check in best.unknown:
            case.deviate(Deviation(check.missing_kind, Severity.PEND, _missing_text(check, r)))
        case.trace.add("R4", f"pathway {p.id} matched pending missing information: no Pathway Eligible ID yet")
    elif unrecognized:
        case.trace.add("R4", f"pathway {p.id} criteria met, but {', '.join(unrecognized)} not recognized: "
                             "the regimen is incomplete, no Pathway Eligible ID yet")
    elif not r.verified:
        # the regimen matches, but what it rests on (doses, schedule, trial) was not read in a
        # primary source: a clinician confirms it before anything is authorized
        case.pend(Reason("unverified-knowledge",
                         f"{r.name}: the regimen's source is not verified "
                         f"({r.evidence.cite() if r.evidence else 'no source'}); a clinician reviews it", "R4"))
        case.trace.add("R4", f"pathway {p.id} criteria met, but regimen {r.id} rests on unverified knowledge")
    else:
        pe_id = pathway_eligible_id(case.order.request_id, r.id, case.kb.version)
        case.trace.add("R4", f"on pathway: {r.name} ({p.name}); Pathway Eligible ID {pe_id}")
    case.pathway = PathwayMatch(p.id, p.name, r.id, r.name, case.kb.version, pe_id)


def _drugset_variants(case: Case, drugset: frozenset[str]) -> list[frozenset[str]]:
    """The drug set as ordered, then two readings of supportive-type drugs: a growth factor the EHR
    tagged 'therapeutic' left out; a steroid inferred 'supportive' counted in (e.g. dexamethasone
    in VRd). At most three index lookups."""
    supportive_type = {w.key for w in case.reviewed() if w.drug.category is DrugCategory.SUPPORTIVE}
    inferred_supportive = {w.key for w in case.reviewed() if w.supportive and w.line.role is DrugRole.UNKNOWN}
    # a non-managed (oral / pharmacy-benefit) drug added to a managed regimen never changes the
    # managed drugs' answer: the regimen is also matched without it
    non_managed = {w.key for w in case.reviewed() if not w.managed}
    managed_only = drugset - non_managed if drugset - non_managed else drugset
    variants = [drugset, drugset - supportive_type, drugset | inferred_supportive, managed_only,
                managed_only - supportive_type]
    return [v for i, v in enumerate(variants) if v and v not in variants[:i]]


def _candidates(case: Case, drugset: frozenset[str]) -> list[Candidate]:
    day = case.date_of_service
    found = []
    for pathway, regimen in case.kb.regimens_with(case.cancer.key, drugset):
        if not pathway.active_on(day):
            case.trace.add("R18", f"pathway {pathway.id} not in effect on {day.isoformat()} "
                                  f"(effective {pathway.effective.isoformat()}, retired "
                                  f"{pathway.retired.isoformat() if pathway.retired else '-'}): not used")
            continue
        found.append(Candidate(pathway, regimen, pathway_checks(pathway, case.order, case.kb)
                               + regimen_checks(regimen, case.order)))
    return found


def withdraw_eligibility(case: Case, why: str) -> None:
    """A schedule deviation (R5) takes the Pathway Eligible ID away."""
    if case.pathway is not None and case.pathway.pathway_eligible_id is not None:
        pm = case.pathway
        case.pathway = PathwayMatch(pm.pathway_id, pm.pathway_name, pm.regimen_id, pm.regimen_name,
                                    pm.kb_version, None)
        case.trace.add("R4", f"Pathway Eligible ID withdrawn: {why}")


def find_alternatives(case: Case) -> None:
    """Off pathway or custom plan: on-pathway regimens this patient could qualify for."""
    off_pathway = case.candidate is not None and case.pathway is None
    if case.cancer is None or not (case.custom_plan or off_pathway):
        return
    requested = case.regimen.id if case.regimen else None
    met: list[Alternative] = []
    possible: list[Alternative] = []
    for p in case.kb.pathways_for(case.cancer.key, case.date_of_service):
        checks = pathway_checks(p, case.order, case.kb)
        if any(c.status is False for c in checks):
            continue
        all_met = all(c.status is True for c in checks)
        if not all_met and case.kb.cancer_types[p.cancer_type].agnostic:
            continue    # a tumour-agnostic pathway is offered only when its biomarker was reported and fits
        bucket = met if all_met else possible
        for r in p.regimens:
            if r.id == requested:
                continue
            # "biomarker-matched" only when the biomarker was reported and fits, never on a guess
            bucket.append(Alternative(p.id, r.id, r.name, _drug_keys(r), precision=all_met and _targeted(p),
                                      criteria_met=all_met))
    case.alternatives = (met + possible)[:MAX_ALTERNATIVES]
    if case.alternatives:
        case.trace.add("R4", "on-pathway alternatives: " + ", ".join(a.regimen_id for a in case.alternatives))
    else:
        case.trace.add("R4", f"no on-pathway alternative for {case.cancer.name} fits this patient")


def _schedule_misfits(case: Case, regimen: Regimen) -> tuple[int, bool, int]:
    """Calendar misfits (server/engine/calendars.py): schedule deviations, then a part of the
    regimen rather than all of it, then doses off the regimen's."""
    from .regimens import schedule_fit
    fit = schedule_fit(case, regimen)
    return fit.misfits, fit.partial, fit.dose_misfits


def _custom(case: Case, why: str) -> None:
    case.custom_plan = True
    if any(w.managed for w in case.drugs):
        case.deviate(Deviation(DeviationKind.CUSTOM_TREATMENT_PLAN, Severity.PEND,
                               f"Custom Treatment Plan: {why}; all managed drugs pend for review"))
    else:
        # Nothing here is this program's to review (e.g. oral drugs only): nothing to pend.
        case.deviate(Deviation(DeviationKind.CUSTOM_TREATMENT_PLAN, Severity.WARNING,
                               f"Custom Treatment Plan: {why}; no drug in it is managed by this program"))


def _mismatch_kind(check: Check) -> DeviationKind:
    # Only biomarkers have a mismatch kind of their own; other criteria reuse their topic's kind.
    return DeviationKind.BIOMARKER_MISMATCH if check.missing_kind is DeviationKind.MISSING_BIOMARKER \
        else check.missing_kind


def _missing_text(check: Check, r: Regimen) -> str:
    if check.missing_kind is DeviationKind.MISSING_BIOMARKER:
        return f"{check.what} status required for {r.name} ({check.required}): {check.reported}"
    return f"{check.what} required for {r.name} ({check.required}): {check.reported}"


def _drug_keys(r: Regimen) -> tuple[str, ...]:
    return tuple(d.drug_key for d in r.drugs)


def _targeted(p: Pathway) -> bool:
    return any(BiomarkerResult.POSITIVE in c.results for c in p.requires)
