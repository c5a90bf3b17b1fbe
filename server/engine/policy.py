"""R3: each managed drug against its medical policy. Met ⇒ Authorized; otherwise pended,
with a reason that names what is missing or does not match. Never denied here."""
from __future__ import annotations

from dataclasses import dataclass

from server.domain.decision import DrugStatus, Reason
from server.domain.order import Order, Setting
from server.knowledge.model import DrugPolicy, Indication

from .context import Case, DrugWork
from .criteria import Check, all_of, any_of_check, exclusion_check, requirement_check


@dataclass(frozen=True)
class IndicationResult:
    indication: Indication
    status: bool | None
    problems: list[str]          # words for each criterion not met / unknown
    biomarker_checks: list[Check]
    other_cancer: bool = False   # the indication is for another cancer type


def evaluate_indication(ind: Indication, cancer_key: str | None, order: Order) -> IndicationResult:
    problems: list[str] = []
    states: list[bool | None] = []
    if cancer_key is None or cancer_key not in ind.cancer_types:
        return IndicationResult(ind, False, [f"indicated for {', '.join(ind.cancer_types)}"], [], other_cancer=True)
    if ind.settings:
        setting = order.diagnosis.setting
        ok = None if setting is Setting.UNKNOWN else setting in ind.settings
        states.append(ok)
        if ok is not True:
            problems.append(f"setting {' or '.join(s.value for s in ind.settings)}; "
                            f"{'setting not reported' if ok is None else 'reported ' + setting.value}")
    checks = [requirement_check(c, order) for c in ind.requires]
    checks += [exclusion_check(c, order) for c in ind.excludes]
    for c in checks:
        states.append(c.status)
        if c.status is not True:
            problems.append(_words(c))
    if ind.requires_any:
        checks += [requirement_check(c, order) for c in ind.requires_any]
        either = any_of_check(ind.requires_any, order)
        states.append(either.status)
        if either.status is not True:
            problems.append(_words(either))
    return IndicationResult(ind, all_of(states), problems, checks)


def evaluate_policy(policy: DrugPolicy, cancer_key: str | None, order: Order) -> list[IndicationResult]:
    return [evaluate_indication(ind, cancer_key, order) for ind in policy.indications]


def policy_review(case: Case) -> None:
    cancer_key = case.cancer.key if case.cancer else None
    for w in case.managed_open():
        if w.status is not None:          # already pended (supportive-only, not recognized)
            continue
        policy = case.kb.policies.get(w.key)
        if policy is None:
            w.settle(DrugStatus.IN_PROGRESS,
                     Reason("no-medical-policy", f"{w.key}: no medical policy on file; pended for review", "R3"))
            case.trace.add("R3", f"{w.key}: no medical policy on file -> pended")
            continue
        results = evaluate_policy(policy, cancer_key, case.order)
        met = next((r for r in results if r.status is True), None)
        if met is not None:
            w.settle(DrugStatus.AUTHORIZED,
                     Reason("policy-met", f"{w.key}: meets medical policy ({_indication_words(met.indication)})",
                            "R3"))
            case.trace.add("R3", f"{w.key}: medical policy met ({_indication_words(met.indication)})")
            continue
        _pend(case, w, results)


def _pend(case: Case, w: DrugWork, results: list[IndicationResult]) -> None:
    unknown = any(r.status is None for r in results)
    relevant = [r for r in results if not r.other_cancer]
    if not relevant:
        code = "policy-not-indicated"
        cancer = case.cancer.name if case.cancer else "this diagnosis"
        text = f"{w.key}: no medical-policy indication for {cancer} ({results[0].problems[0]})"
    else:
        # Every indication for this cancer type, so the reviewer sees each way the policy could be met.
        code = "policy-criteria-unknown" if unknown else "policy-criteria-not-met"
        text = f"{w.key} requires " + " — or — ".join("; ".join(r.problems) for r in relevant)
    w.settle(DrugStatus.IN_PROGRESS, Reason(code, text, "R3"))
    case.trace.add("R3", f"{w.key}: medical policy not met or unknown -> pended for review ({text})")


def _words(c: Check) -> str:
    """'HER2 positive; reported HER2 negative' or 'HER2 positive; HER2 not reported'."""
    required = c.required.replace(" or ", "/")
    if "not reported" in c.reported:
        return f"{required}; {c.reported}"
    return f"{required}; reported {c.reported}"


def _indication_words(ind: Indication) -> str:
    words = ", ".join(ind.cancer_types)
    if ind.settings:
        words += " " + "/".join(s.value for s in ind.settings)
    crits = [c.describe() for c in ind.requires]
    if crits:
        words += "; " + ", ".join(crits)
    return words
