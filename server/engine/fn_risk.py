"""R6: growth factors (G-CSF) against the regimen's febrile-neutropenia risk."""
from __future__ import annotations

from server.domain.decision import Deviation, DeviationKind, Severity
from server.domain.order import Order, Setting
from server.knowledge.model import FnRisk

from .context import Case


def patient_risk_factors(order: Order, day, vocabulary: frozenset[str] = frozenset(),
                         derived: dict[str, dict] | None = None) -> set[str]:
    """Risk factors the record reports (those the knowledge base accepts), plus those the order
    itself shows by the knowledge base's rules (kb.yaml `derived_from`: age, ECOG, setting):
    worked out here only, once per decision."""
    factors = set(order.fn_risk_factors)
    if vocabulary:
        factors &= vocabulary
    age = order.member.age_on(day)
    for key, rule in (derived or {}).items():
        if "age_at_or_above" in rule and age is not None and age >= rule["age_at_or_above"]:
            factors.add(key)
        if "ecog_at_or_above" in rule and order.ecog is not None and order.ecog >= rule["ecog_at_or_above"]:
            factors.add(key)
        if rule.get("setting") == Setting.METASTATIC.value and order.diagnosis.setting is Setting.METASTATIC:
            factors.add(key)
    return factors


def fn_risk_review(case: Case) -> None:
    growth = [w for w in case.managed_open() if w.drug.growth_factor]
    if not growth:
        return
    if case.supportive_only and case.regimen is None:
        case.trace.add("R6", "supportive-only request: FN risk judged with the prior regimen at review")
        return
    regimen = case.regimen
    for w in growth:
        if regimen is None:
            case.deviate(Deviation(DeviationKind.FN_RISK, Severity.PEND,
                                   f"{w.key}: FN risk of the regimen unknown (no matched regimen); review",
                                   drug_key=w.key, rule="R6"))
            continue
        risk = regimen.fn_risk
        if risk is FnRisk.HIGH:
            case.trace.add("R6", f"{w.key}: {regimen.name} has high FN risk (>20%): growth factor indicated")
        elif risk is FnRisk.INTERMEDIATE:
            factors = sorted(patient_risk_factors(case.order, case.date_of_service, case.kb.fn_risk_factors,
                                                  case.kb.fn_risk_derived))
            ignored = sorted(set(case.order.fn_risk_factors) - set(factors))
            if ignored:
                case.trace.add("R6", f"risk factor(s) not in the program's list, not counted: {', '.join(ignored)}")
            if factors:
                case.trace.add("R6", f"{w.key}: intermediate FN risk (10–20%) with risk factor(s) "
                                     f"{', '.join(factors)}: growth factor indicated")
            else:
                case.deviate(Deviation(
                    DeviationKind.FN_RISK, Severity.PEND,
                    f"{w.key}: {regimen.name} has intermediate FN risk (10–20%) and no patient risk factor "
                    "is reported; an additional risk factor is needed to justify a growth factor",
                    drug_key=w.key, rule="R6"))
        else:
            case.deviate(Deviation(
                DeviationKind.FN_RISK, Severity.PEND,
                f"{w.key}: growth factor not indicated for a low FN-risk regimen ({regimen.name}, <10%); review",
                drug_key=w.key, rule="R6"))
