"""R3: each managed drug against its medical policy, indication by indication.

An indication is met only with positive evidence for every criterion it names (cancer type and
its ICD-10-CM exclusions, histology, setting, stage, line of therapy / prior therapy, required and
excluded biomarkers, partner drugs or monotherapy, restrictions). Met ⇒ Authorized; a criterion
not met or unknown ⇒ pended with that reason first. An indication whose source is unverified
(tag M) is never met: it pends "unverified knowledge". Never denied here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.domain.decision import DeviationKind, DrugStatus, Reason
from server.domain.order import LineOfTherapy, Order, Setting
from server.knowledge.model import DrugCategory, DrugPolicy, Indication, Knowledge, ProgressionInterval, Restriction

from .context import Case, DrugWork
from .dates import add_months
from .criteria import (Check, Tri, all_of, any_of_check, attestation_check, exclusion_check, histology_check,
                       requirement_check, stage_in)
from .resolve import ICD10CM

PRIOR_THERAPY_FACTOR = "prior-chemotherapy-or-radiation"   # set by the mapping from prior-treatment records
BONE_METASTASIS_PREFIX = "C79.5"                            # secondary malignant neoplasm of bone (ICD-10-CM)
_LINES_AFTER = {1: (LineOfTherapy.SECOND, LineOfTherapy.THIRD_PLUS), 2: (LineOfTherapy.THIRD_PLUS,),
                3: (LineOfTherapy.THIRD_PLUS,)}


@dataclass(frozen=True)
class IndicationResult:
    indication: Indication
    status: bool | None
    problems: list[str]          # words for each criterion not met / unknown, failures first
    biomarker_checks: list[Check]
    other_cancer: bool = False   # the indication is for another cancer type
    checks: tuple[Check, ...] = ()
    unverified: bool = False     # every criterion met, but the indication's source is unverified


@dataclass(frozen=True)
class Regimen:
    """What else is on the request, for partner-drug and monotherapy criteria."""
    keys: frozenset[str]
    categories: frozenset[str]
    therapeutic_others: frozenset[str]


def regimen_context(case: Case, w: DrugWork, reviewed: list[DrugWork] | None = None) -> Regimen:
    reviewed = case.reviewed() if reviewed is None else reviewed
    others = [x for x in reviewed if x is not w]
    return Regimen(frozenset(x.key for x in others), frozenset(x.drug.category.value for x in others),
                   frozenset(x.key for x in others if not x.supportive and x.drug.category is not DrugCategory.SUPPORTIVE))


def _indicated_for(ind: Indication, cancer_key: str, kb: Knowledge | None) -> bool:
    """The indication names the cancer type, or a tumour-agnostic group that covers it (solid)."""
    if cancer_key in ind.cancer_types:
        return True
    if kb is None:
        return False
    ct = kb.cancer_types.get(cancer_key)
    return ct is not None and ct.kind == "solid" and any(
        kb.cancer_types[k].agnostic for k in ind.cancer_types if k in kb.cancer_types)


def evaluate_indication(ind: Indication, cancer_key: str | None, order: Order, kb: Knowledge | None = None,
                        regimen: Regimen | None = None) -> IndicationResult:
    if cancer_key is None or not _indicated_for(ind, cancer_key, kb):
        return IndicationResult(ind, False, [f"indicated for {', '.join(ind.cancer_types)}"], [], other_cancer=True)
    dx = order.diagnosis
    checks: list[Check] = []
    if ind.icd10_excludes:
        icd = [c.code.upper() for c in dx.codes if c.system == ICD10CM]
        hit = next((c for c in icd if c.startswith(ind.icd10_excludes)), None)
        checks.append(Check("diagnosis", None if not icd else hit is None,
                            f"diagnosis not {', '.join(ind.icd10_excludes)}",
                            f"diagnosis {hit or (icd[0] if icd else 'not coded in ICD-10-CM')}", _kind("setting")))
    if ind.histology or ind.histology_excludes:
        if kb is None:
            checks.append(Check("histology", None, "histology " + " or ".join(ind.histology),
                                "histology not evaluated", _kind("histology")))
        else:
            checks.append(histology_check(ind.histology, ind.histology_excludes, order, kb))
    if ind.settings:
        ok = None if dx.setting is Setting.UNKNOWN else dx.setting in ind.settings
        checks.append(Check("setting", ok, "setting " + " or ".join(s.value for s in ind.settings),
                            "setting not reported" if ok is None else f"reported {dx.setting.value}", _kind("setting")))
    if ind.excludes_settings:
        # the label's disease is locoregional: a recorded metastatic site fails (not the setting read
        # from a stage IV prefix - head and neck IVA / IVB are M0 - which the stage criterion judges)
        metastatic = Setting.METASTATIC in ind.excludes_settings and bool(dx.metastatic_sites)
        ok = not metastatic and dx.setting not in tuple(x for x in ind.excludes_settings if x is not Setting.METASTATIC)
        checks.append(Check("setting", ok, "not " + " or ".join(s.value for s in ind.excludes_settings),
                            "reported a metastatic site" if metastatic else f"reported {dx.setting.value}",
                            _kind("setting")))
    if ind.stages:
        ok = stage_in(dx.stage_group, ind.stages)
        checks.append(Check("stage", ok, "stage " + " or ".join(ind.stages),
                            f"stage {dx.stage_group}" if dx.stage_group else "stage not reported", _kind("stage")))
    if ind.lines:
        ok = None if dx.line_of_therapy is LineOfTherapy.UNKNOWN else dx.line_of_therapy in ind.lines
        checks.append(Check("line of therapy", ok, "line " + " or ".join(x.value for x in ind.lines),
                            _line_words(dx.line_of_therapy), _kind("line")))
    if ind.after_prior:
        checks.append(_after_prior(ind.after_prior, order))
    if ind.max_prior is not None:
        checks.append(_max_prior(ind.max_prior, order))
    checks += [requirement_check(c, order) for c in ind.requires]
    checks += [exclusion_check(c, order) for c in ind.excludes]
    if ind.requires_any:
        checks.append(any_of_check(ind.requires_any, order))
    if regimen is not None:
        checks += _partner_checks(ind, regimen)
    elif ind.partners or ind.monotherapy:      # the rest of the request was not given: cannot be judged
        checks.append(Check("partner drug", None, "the regimen the label names", "regimen not evaluated",
                            _kind("partner")))
    for r in ind.restrictions:
        checks.append(_restriction(r, cancer_key, order))
    if ind.age_min is not None or ind.age_max is not None:
        checks.append(_age_check(ind, order))
    if ind.after_drugs:
        checks.append(_after_drugs(ind.after_drugs, order, kb))
    if ind.not_after_drugs:
        checks.append(_not_after_drugs(ind.not_after_drugs, order, kb))
    if ind.progression is not None:
        checks.append(_progression_check(ind.progression, order, kb))
    if ind.response_after:
        checks.append(_response_check(ind.response_after, order, kb))
    if ind.ecog_max is not None:
        checks.append(_ecog_check(ind.ecog_max, order))
    if ind.menopause:
        checks.append(_menopause_check(ind.menopause, order))
    if ind.transplant:
        checks.append(_transplant_check(ind.transplant, order))
    if ind.cisplatin_unfit:
        checks.append(_cisplatin_unfit_check(order))
    checks += [attestation_check(a, order) for a in ind.attests]
    states = [c.status for c in checks]
    status = all_of(states)
    ordered = [c for c in checks if c.status is False] + [c for c in checks if c.status is None]
    problems = [_words(c) for c in ordered]
    unverified = False
    if status is True and not ind.verified:
        status, unverified = None, True
        problems.append("unverified knowledge: the indication's source is not verified "
                        f"({ind.evidence.cite() if ind.evidence else 'no source'}); a clinician reviews it")
    biomarker = [c for c in checks if c.missing_kind.value.endswith("biomarker")]
    return IndicationResult(ind, status, problems, biomarker, checks=tuple(checks), unverified=unverified)


def evaluate_policy(policy: DrugPolicy, cancer_key: str | None, order: Order, kb: Knowledge | None = None,
                    regimen: Regimen | None = None) -> list[IndicationResult]:
    return [evaluate_indication(ind, cancer_key, order, kb, regimen) for ind in policy.indications]


def policy_review(case: Case) -> None:
    cancer_key = case.cancer.key if case.cancer else None
    reviewed = case.reviewed()
    for w in case.managed_open():
        if w.status is not None:          # already pended (supportive-only, not recognized)
            continue
        policy = case.kb.policies.get(w.key)
        if policy is None:
            w.settle(DrugStatus.IN_PROGRESS,
                     Reason("no-medical-policy", f"{w.key}: no medical policy on file; pended for review", "R3"))
            case.trace.add("R3", f"{w.key}: no medical policy on file -> pended")
            continue
        regimen = regimen_context(case, w, reviewed)
        # Only this cancer type's indications are evaluated (indexed at load); the others are
        # named in the pend reason when none applies.
        own = case.kb.indications_for(w.key, cancer_key) if case.kb.indications_by_cancer else \
            tuple(i for i in policy.indications if _indicated_for(i, cancer_key, case.kb))
        results = [evaluate_indication(ind, cancer_key, case.order, case.kb, regimen) for ind in own]
        for r in results:
            _trace_indication(case, w, r)
        met = next((r for r in results if r.status is True), None)
        if met is not None:
            w.settle(DrugStatus.AUTHORIZED,
                     Reason("policy-met", f"{w.key}: meets medical policy ({_indication_words(met.indication)})",
                            "R3"))
            case.trace.add("R3", f"{w.key}: medical policy met ({_indication_words(met.indication)}); source "
                                 f"{met.indication.evidence.cite() if met.indication.evidence else '-'}")
            continue
        if not results:
            results = [evaluate_indication(ind, cancer_key, case.order) for ind in policy.indications[:1]]
        _pend(case, w, results)


def _trace_indication(case: Case, w: DrugWork, r: IndicationResult) -> None:
    """One trace line per indication: its state, each criterion with the evidence used, its source."""
    ind = r.indication
    parts = []
    for c in r.checks:
        part = f"{c.required} -> {_STATE[c.status]} ({c.reported})"
        parts.append(part + (f" [evidence {c.evidence}]" if c.evidence else ""))
    case.trace.add("R3", f"{w.key}: indication {ind.id} -> {_STATE[r.status]}"
                         + (" (unverified knowledge)" if r.unverified else "")
                         + (": " + "; ".join(parts) if parts else "")
                         + f"; source {ind.evidence.cite() if ind.evidence else '-'}")


_STATE = {True: "met", False: "not met", None: "unknown"}
_COMPOSITION = ("partner drug", "monotherapy")


def _pend(case: Case, w: DrugWork, results: list[IndicationResult]) -> None:
    relevant = [r for r in results if not r.other_cancer]
    if not relevant:
        code = "policy-not-indicated"
        cancer = case.cancer.name if case.cancer else "this diagnosis"
        text = f"{w.key}: no medical-policy indication for {cancer} ({results[0].problems[0]})"
    else:
        # The closest indication first (fewest failed, then fewest unknown criteria; among equals the
        # one whose partner drugs are the ones ordered: DRd for a transplant candidate is explained by
        # the DRd label's candidacy, not by another label's missing bortezomib), then the others,
        # so the reviewer reads the reason that matters before the rest.
        relevant.sort(key=lambda r: (sum(c.status is False for c in r.checks),
                                     sum(c.status is None for c in r.checks) + r.unverified,
                                     any(c.what in _COMPOSITION and c.status is False for c in r.checks)))
        failed = any(c.status is False for c in relevant[0].checks)
        if relevant[0].unverified and not failed and not any(c.status is None for c in relevant[0].checks):
            code = "unverified-knowledge"
        else:
            code = "policy-criteria-not-met" if failed else "policy-criteria-unknown"
        text = f"{w.key} requires " + " — or — ".join(
            "; ".join(r.problems) + f" (indication {r.indication.id})" for r in relevant)
    w.settle(DrugStatus.IN_PROGRESS, Reason(code, text, "R3"))
    case.trace.add("R3", f"{w.key}: medical policy not met or unknown -> pended for review ({text})")


def _after_prior(n: int, order: Order) -> Check:
    line = order.diagnosis.line_of_therapy
    required = "after prior therapy" if n == 1 else f"after {n} or more prior lines of therapy"
    if order.prior_line_count is not None:
        return Check("prior therapy", order.prior_line_count >= n, required, _stated_lines(order), _kind("line"))
    if line in _LINES_AFTER[n]:
        return Check("prior therapy", True, required, f"line {line.value}", _kind("line"))
    if line in (LineOfTherapy.FIRST,) or (n >= 2 and line is LineOfTherapy.SECOND):
        return Check("prior therapy", False, required, f"ordered as line {line.value}", _kind("line"))
    if n == 1 and PRIOR_THERAPY_FACTOR in order.fn_risk_factors:
        return Check("prior therapy", True, required, "prior anticancer therapy on record", _kind("line"))
    return Check("prior therapy", None, required, "line of therapy and prior therapy not reported", _kind("line"))


def _response_check(drugs: tuple[str, ...], order: Order, kb: Knowledge | None) -> Check:
    """Maintenance for patients who achieved a complete or partial response to the induction: a
    remission documented after the induction's last dose meets it; progression documented after
    it (and no remission) fails it; anything else - "improved", no status, no dated induction - is
    unknown and pends for a clinician."""
    names = " or ".join(drugs)
    required = f"a complete or partial response to {names}"
    last, _ = _last_dose(drugs, order, kb)
    if last is None:
        return Check("response", None, required, f"response not reported (no dated {names} in the completed treatment)",
                     _kind("line"))
    if any(d >= last for d in order.responses):
        return Check("response", True, required, f"remission documented after the last dose ({last.isoformat()})",
                     _kind("line"))
    if any(d > last for d in order.progressions):
        return Check("response", False, required, f"progression documented after the last dose ({last.isoformat()})",
                     _kind("line"))
    return Check("response", None, required, f"response not reported (last {names} dose {last.isoformat()})",
                 _kind("line"))


def _stated_lines(order: Order) -> str:
    n = order.prior_line_count
    return f"{n} prior line{'s' if n != 1 else ''} stated"


def _max_prior(n: int, order: Order) -> Check:
    """At most `n` prior lines: the line of therapy says how many came before only up to two
    (first line: none; second: one); "third line or later" is two or more, so a ceiling of one
    fails and a higher ceiling cannot be told from the record (a clinician counts)."""
    line = order.diagnosis.line_of_therapy
    required = f"at most {n} prior line{'s' if n > 1 else ''} of therapy"
    if order.prior_line_count is not None:
        return Check("prior lines", order.prior_line_count <= n, required, _stated_lines(order), _kind("line"))
    if line in (LineOfTherapy.FIRST, LineOfTherapy.SECOND):
        return Check("prior lines", True, required, f"line {line.value}", _kind("line"))
    if line is LineOfTherapy.THIRD_PLUS:
        return Check("prior lines", False if n < 2 else None, required,
                     "line 3L+, two or more prior lines" if n < 2
                     else "number of prior lines not reported (line 3L+ says two or more)", _kind("line"))
    return Check("prior lines", None, required, _line_words(line), _kind("line"))


def _after_drugs(groups: tuple[tuple[str, ...], ...], order: Order, kb: Knowledge | None) -> Check:
    """The drugs the label requires before (durvalumab maintenance after durvalumab-based
    induction): met when the record's completed or stopped treatment holds one of each group.
    Not found is unknown, never failed: a prior treatment can be missing from the record, so the
    drug pends for a clinician rather than being refused."""
    required = "after " + " and ".join(_drug_words(g) for g in groups)
    given = _given_before(order, kb)
    met = all(_named(given, g, kb) for g in groups)
    reported = ("prior " + ", ".join(sorted(given))) if given else "no prior cancer drug on record"
    return Check("prior drugs", True if met else None, required, reported, _kind("line"))


def _given_before(order: Order, kb: Knowledge | None) -> set[str]:
    """The drug keys of the record's completed or stopped cancer treatment."""
    return _drug_keys(order.prior_medications, kb)


def _drug_keys(codes, kb: Knowledge | None) -> set[str]:
    given = set()
    if kb is not None:
        for code in codes:
            # a product code the knowledge base does not hold names its drug in the display
            # ("SUNItinib 50 MG Oral Capsule [Sutent]"): history, so its name is enough
            drug = kb.drug_for(code) or (kb.drug_named_in(code.display) if code.display else None)
            if drug is not None:
                given.add(drug.key)
    return given


def _last_dose(drugs: tuple[str, ...], order: Order, kb: Knowledge | None) -> tuple[date | None, bool]:
    """The latest dose date of `drugs` in the record's completed treatment, and whether any of
    them is there at all (dated or not)."""
    courses = [c for c in order.prior_courses if _named(_drug_keys(c.codes, kb), drugs, kb)]
    return max((c.last for c in courses if c.last), default=None), bool(courses)


def _drug_words(keys) -> str:
    """Drug keys as a reason names them: "carboplatin or cisplatin", "chemotherapy"."""
    return " or ".join(k.removeprefix("category:") for k in keys)


def _named(keys: set[str], wanted, kb: Knowledge | None) -> set[str]:
    """The keys among `keys` that `wanted` names, by key or by category ("category:chemotherapy":
    any chemotherapy drug, for a label's "prior chemotherapy")."""
    cats = {w.removeprefix("category:") for w in wanted if w.startswith("category:")}
    return {k for k in keys if k in wanted
            or (cats and kb is not None and k in kb.drugs and kb.drugs[k].category.value in cats)}


def _progression_check(p: ProgressionInterval, order: Order, kb: Knowledge | None) -> Check:
    """The label's interval (platinum-resistant or -sensitive disease, rituximab-refractory
    lymphoma) from the last dose of the named drugs in the record's completed treatment to the
    first progression documented after it (mCODE disease status "worsened"). Without a
    progression date, the requested start stands in for it when that settles the question:
    treatment starting within the window means the disease progressed within it. A record
    without the drug, or without dates, is unknown: the drug pends for a clinician. (The texts
    carry no ';' or ':' - the cards split on them.)"""
    names = _drug_words(p.drugs)
    required = (f"progression within {p.months} months of the last {names} dose" if p.within
                else f"progression more than {p.months} months after the last {names} dose")
    required += f" ({p.term})" if p.term else ""
    what = "progression interval"
    last, given = _last_dose(p.drugs, order, kb)
    if last is None:
        return Check(what, None, required,
                     f"date of the last {names} dose not reported" if given
                     else f"prior {names} dose not reported (none in the record's completed treatment)",
                     _kind("line"))
    limit = add_months(last, p.months)
    after = [d for d in order.progressions if d > last]
    if after:
        within, shown = after[0] <= limit, f"progression {after[0].isoformat()}"
    elif order.treatment_start and last < order.treatment_start <= limit:
        within, shown = True, f"no progression date, requested start {order.treatment_start.isoformat()}"
    else:
        return Check(what, None, required,
                     f"progression after the last dose not reported (last {names} dose {last.isoformat()})",
                     _kind("line"))
    reported = f"last dose {last.isoformat()}, {shown}, {'within' if within else 'more than'} {p.months} months"
    return Check(what, within if p.within else not within, required, reported, _kind("line"))

def _not_after_drugs(keys: tuple[str, ...], order: Order, kb: Knowledge | None) -> Check:
    """Drugs the indication does not cover after (a PD-1 inhibitor re-treatment its trials did not
    test): not met when the record's prior treatment holds one; met otherwise (a prior drug the
    record does not hold cannot be seen, as for every prior-treatment criterion)."""
    hit = sorted(_given_before(order, kb) & set(keys))
    required = "not after " + " or ".join(keys)
    reported = ("prior " + ", ".join(hit)) if hit else "none of them in the record's prior treatment"
    return Check("prior drugs", not hit, required, reported, _kind("line"))


def _cisplatin_unfit_check(order: Order) -> Check:
    """EORTC 30986's population, "unfit for cisplatin": glomerular filtration rate below 60 but above
    30 mL/min and/or performance status 2 (eGFR read as the GFR). Fit (ECOG 0-1 and eGFR 60 or more)
    or outside the trial (eGFR 30 or less, ECOG 3-4) fails; a missing value that decides it pends."""
    gfr, ps = order.egfr, order.ecog
    required = "unfit for cisplatin (eGFR above 30 and below 60, or ECOG 2)"
    words = ", ".join(x for x in (f"eGFR {gfr:g}" if gfr is not None else "eGFR not reported",
                                  f"ECOG {ps}" if ps is not None else "ECOG not reported"))
    if (gfr is not None and gfr <= 30) or (ps is not None and ps >= 3):
        ok: bool | None = False
    elif gfr is not None and 30 < gfr < 60:
        ok = True
    elif ps == 2:
        ok = True if gfr is not None else None      # PS 2 with GFR above 30: the GFR must be known
    elif gfr is not None and ps is not None:
        ok = False                                  # fit for cisplatin: eGFR 60 or more and ECOG 0-1
    else:
        ok = None
    return Check("fitness for cisplatin", ok, required, ("reported " + words) if "not reported" not in words else words,
                 _kind("ecog"))


def _recorded_status(what: str, wanted: str, recorded: str | None, required: str, words: dict[str, str]) -> Check:
    """A patient status the label names (postmenopausal women; not a transplant candidate), as the
    record or the worksheet states it: not stated pends (the card asks it), another answer fails."""
    ok = None if recorded is None else recorded == wanted
    reported = f"{what} not reported" if recorded is None else "reported " + words.get(recorded, recorded)
    return Check(what, ok, required, reported, _kind("age"))


def _transplant_check(status: str, order: Order) -> Check:
    """Transplant candidacy: a clinician's attestation on the worksheet (no code in the record states it)."""
    return _recorded_status("transplant candidacy", status, order.transplant,
                            f"a patient who is {'not ' if status == 'ineligible' else ''}a candidate for autologous "
                            "stem cell transplant",
                            {"ineligible": "not a transplant candidate", "eligible": "a transplant candidate"})


def _menopause_check(status: str, order: Order) -> Check:
    """The label's women by menopausal status ("postmenopausal women"), from the record's Observation."""
    return _recorded_status("menopausal status", status, order.menopause, f"a {status} woman", {})


def _ecog_check(ecog_max: int, order: Order) -> Check:
    """The performance status the label's pivotal trial enrolled (FOLFIRINOX: ECOG 0-1)."""
    ok = None if order.ecog is None else order.ecog <= ecog_max
    reported = "ECOG not reported" if order.ecog is None else f"reported ECOG {order.ecog}"
    return Check("performance status", ok, f"ECOG {ecog_max} or better", reported, _kind("ecog"))


def _age_check(ind: Indication, order: Order) -> Check:
    """The label's age range on the date of service. Outside it, an `otherwise` alternative the
    record cannot show (Venclexta: "or who have comorbidities that preclude ...") leaves the
    criterion unknown, so the drug pends for a clinician instead of failing."""
    day = order.treatment_start or order.received_at.date()
    age = order.member.age_on(day)
    lo, hi = ind.age_min, ind.age_max
    required = ("age " + (f"{lo} to {hi} years" if lo is not None and hi is not None
                          else f"{lo} years or older" if lo is not None else f"{hi} years or younger")
                + (f", or {ind.age_otherwise}" if ind.age_otherwise else ""))
    if age is None:
        return Check("age", None, required, "age not reported (no birth date)", _kind("age"))
    inside = (lo is None or age >= lo) and (hi is None or age <= hi)
    status: Tri = True if inside else (None if ind.age_otherwise else False)
    return Check("age", status, required, f"reported age {age}", _kind("age"))


def _partner_checks(ind: Indication, regimen: Regimen) -> list[Check]:
    out = []
    for group in ind.partners:
        present = [g for g in group if (g.removeprefix("category:") in regimen.categories
                                       if g.startswith("category:") else g in regimen.keys)]
        words = " or ".join(g.removeprefix("category:") + (" drug" if g.startswith("category:") else "")
                            for g in group)
        out.append(Check("partner drug", bool(present), f"given with {words}",
                         f"with {', '.join(present)}" if present else f"no {words} on the request", _kind("partner")))
    if ind.monotherapy:
        others = sorted(regimen.therapeutic_others)
        out.append(Check("monotherapy", not others, "as monotherapy",
                         "alone" if not others else f"combined with {', '.join(others)}", _kind("partner")))
    return out


def _restriction(r: Restriction, cancer_key: str, order: Order) -> Check:
    dx = order.diagnosis
    if r is Restriction.NOT_CURATIVE_INTENT:
        curative = dx.setting in (Setting.ADJUVANT, Setting.NEOADJUVANT)
        status: Tri = None if dx.setting is Setting.UNKNOWN else not curative
        return Check("treatment intent", status, "not with curative-intent chemotherapy (ESA limitation of use)",
                     "setting not reported" if status is None else
                     f"{dx.setting.value} setting" + (" (curative intent)" if curative else ""), _kind("setting"))
    bone = any(c.system == ICD10CM and c.code.upper().startswith(BONE_METASTASIS_PREFIX) for c in dx.metastatic_sites)
    status = True if (bone or cancer_key == "myeloma") else None
    reported = "bone metastases reported" if bone else ("multiple myeloma" if cancer_key == "myeloma"
                                                        else "no bone metastasis reported")
    return Check("bone disease", status, "bone metastases from a solid tumor or multiple myeloma", reported,
                 _kind("setting"))


_KINDS = {"setting": DeviationKind.MISSING_SETTING, "stage": DeviationKind.MISSING_STAGE,
          "line": DeviationKind.MISSING_LINE, "histology": DeviationKind.MISSING_HISTOLOGY,
          "partner": DeviationKind.CUSTOM_TREATMENT_PLAN,   # a policy Check's topic (never a deviation itself)
          "age": DeviationKind.MISSING_ECOG,                # a patient attribute, like ECOG (topic only)
          "ecog": DeviationKind.MISSING_ECOG}


def _kind(what: str) -> DeviationKind:
    return _KINDS[what]


def _line_words(line: LineOfTherapy) -> str:
    return "line of therapy not reported" if line is LineOfTherapy.UNKNOWN else f"reported line {line.value}"


def _words(c: Check) -> str:
    """'HER2 positive; reported HER2 negative' or 'HER2 positive; HER2 not reported'."""
    required = c.required.replace(" or ", "/") if c.missing_kind.value.endswith("biomarker") else c.required
    if "not reported" in c.reported or c.reported.startswith(("reported ", "no ", "with ", "combined", "alone",
                                                                   "ordered", "prior", "line", "diagnosis",
                                                                   "histology", "stage", "bone", "multiple")):
        return f"{required}; {c.reported}"
    return f"{required}; reported {c.reported}"


def _indication_words(ind: Indication) -> str:
    words = ", ".join(ind.cancer_types)
    if ind.settings:
        words += " " + "/".join(s.value for s in ind.settings)
    crits = [c.describe() for c in ind.requires]
    if crits:
        words += "; " + ", ".join(crits)
    if ind.id:
        words += f"; indication {ind.id}"
    return words
