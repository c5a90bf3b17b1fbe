"""R19 precision benefit for biomarker-matched targeted therapy, and R20 pointers to
precision-medicine trials when an actionable biomarker has no pathway option."""
from __future__ import annotations

from server.domain.decision import DrugStatus, PrecisionBenefit, TrialPointer
from server.domain.order import BiomarkerResult
from server.knowledge.model import BiomarkerCriterion, DrugCategory

from .context import Case
from .criteria import biomarker_holds
from .policy import evaluate_indication, regimen_context

BENEFIT_TEXT = "biomarker-matched targeted therapy: no step therapy; first-line cost-sharing"


def precision_benefits(case: Case) -> tuple[PrecisionBenefit, ...]:
    on_pathway = case.pathway is not None and case.pathway.pathway_eligible_id is not None
    cancer_key = case.cancer.key if case.cancer else None
    found: list[PrecisionBenefit] = []
    for w in case.reviewed():
        if w.drug.category is not DrugCategory.TARGETED:
            continue
        criteria: list[BiomarkerCriterion] = []
        if on_pathway:
            criteria += case.candidate.pathway.requires
        if w.status is DrugStatus.AUTHORIZED and w.key in case.kb.policies:
            regimen = regimen_context(case, w)
            for ind in case.kb.indications_for(w.key, cancer_key):
                if evaluate_indication(ind, cancer_key, case.order, case.kb, regimen).status is True:
                    criteria += ind.requires
        marker = next((c.marker for c in criteria
                       if BiomarkerResult.POSITIVE in c.results and biomarker_holds(c, case.order) is True), None)
        if marker and not any(p.drug_key == w.key for p in found):
            found.append(PrecisionBenefit(w.key, marker, BENEFIT_TEXT))
            case.trace.add("R19", f"{w.key}: matched to {marker} positive: no step therapy, first-line cost-sharing")
    return tuple(found)


def trial_pointers(case: Case) -> tuple[TrialPointer, ...]:
    trial_markers = case.kb.trial_markers or {arm.biomarker.marker for arm in case.kb.trials}
    actionable = sorted({b.name for b in case.order.biomarkers
                         if b.result is BiomarkerResult.POSITIVE and b.name in trial_markers})
    if not actionable:
        return ()
    no_option = case.custom_plan or (case.pathway is None and not case.alternatives)
    if not no_option:
        case.trace.add("R20", f"actionable biomarker(s) {', '.join(actionable)}: an on-pathway option exists, "
                              "no trial pointer")
        return ()
    cancer_key = case.cancer.key if case.cancer else None
    pointers: list[TrialPointer] = []
    for arm in case.kb.trials:
        if arm.cancer_types and cancer_key not in arm.cancer_types:
            continue
        if biomarker_holds(arm.biomarker, case.order) is not True:
            continue
        pointers.append(TrialPointer(
            arm.nct_id, arm.arm, arm.biomarker.marker, arm.drug,
            f"{arm.biomarker.describe()}: no on-pathway option; consider {arm.nct_id} arm {arm.arm} ({arm.drug})"))
    case.trace.add("R20", f"actionable biomarker(s) {', '.join(actionable)} without a pathway option: "
                          + (", ".join(f"{p.nct_id} {p.arm}" for p in pointers) or "no matching trial arm"))
    return tuple(pointers)
