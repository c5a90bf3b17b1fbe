"""Three-valued criteria: True (met), False (not met), None (unknown / not reported).

Unknown is never read as met or as failed: it pends (R3, R5).
"""
from __future__ import annotations

from dataclasses import dataclass

from server.domain.decision import DeviationKind
from server.domain.order import Biomarker, BiomarkerResult, Order
from server.knowledge.model import BiomarkerCriterion, Pathway

Tri = bool | None


@dataclass(frozen=True)
class Check:
    """One pathway or policy criterion, evaluated for this patient."""
    what: str                 # "HER2", "setting", "line of therapy", "ECOG", "stage"
    status: Tri
    required: str             # what the criterion asks for, in words
    reported: str             # what the order says, in words
    missing_kind: DeviationKind


def all_of(values: list[Tri]) -> Tri:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def reported_words(marker: str, b: Biomarker | None) -> str:
    if b is None or b.result is BiomarkerResult.UNKNOWN and b.value is None:
        return f"{marker} not reported"
    parts = [marker, b.result.value]
    if b.value is not None:
        parts.append(f"{b.value:g}" + (f" {b.unit}" if b.unit else ""))
    if b.variant:
        parts.append(f"({b.variant})")
    return " ".join(parts)


def biomarker_holds(c: BiomarkerCriterion, order: Order) -> Tri:
    """Does the patient's result satisfy the criterion? Equivocal / unknown / missing ⇒ None."""
    b = order.biomarker(c.marker)
    if b is None:
        return None
    if (c.min_value is not None or c.max_value is not None) and b.value is not None:
        held: Tri = ((c.min_value is None or b.value >= c.min_value)
                     and (c.max_value is None or b.value <= c.max_value))
    elif b.result in c.results:
        held = True
    elif b.result in (BiomarkerResult.EQUIVOCAL, BiomarkerResult.UNKNOWN):
        return None
    else:
        held = False
    if held and c.variants:
        if not b.variant:
            return None
        variant = b.variant.lower()
        held = any(v.lower() in variant for v in c.variants)
    return held


def requirement_check(c: BiomarkerCriterion, order: Order) -> Check:
    return Check(c.marker, biomarker_holds(c, order), c.describe(),
                 reported_words(c.marker, order.biomarker(c.marker)), DeviationKind.MISSING_BIOMARKER)


def exclusion_check(c: BiomarkerCriterion, order: Order) -> Check:
    held = biomarker_holds(c, order)
    status = None if held is None else not held
    return Check(c.marker, status, f"not {c.describe()}",
                 reported_words(c.marker, order.biomarker(c.marker)), DeviationKind.MISSING_BIOMARKER)


def any_of_check(criteria, order: Order) -> Check:
    """At least one criterion holds: True if any does, unknown if none fails outright."""
    states = [biomarker_holds(c, order) for c in criteria]
    status: Tri = True if True in states else (None if None in states else False)
    return Check(" or ".join(c.marker for c in criteria), status,
                 " or ".join(c.describe() for c in criteria),
                 ", ".join(reported_words(c.marker, order.biomarker(c.marker)) for c in criteria),
                 DeviationKind.MISSING_BIOMARKER)


def pathway_checks(p: Pathway, order: Order) -> list[Check]:
    """Every criterion of a pathway: setting, line, biomarkers, ECOG, stage (R4, R5)."""
    dx = order.diagnosis
    checks: list[Check] = []
    if p.settings:
        status = None if dx.setting.value == "unknown" else dx.setting in p.settings
        checks.append(Check("setting", status, "setting " + " or ".join(s.value for s in p.settings),
                            _or_not_reported("setting", dx.setting.value), DeviationKind.MISSING_SETTING))
    if p.lines:
        status = None if dx.line_of_therapy.value == "unknown" else dx.line_of_therapy in p.lines
        checks.append(Check("line of therapy", status, "line " + " or ".join(x.value for x in p.lines),
                            _or_not_reported("line of therapy", dx.line_of_therapy.value),
                            DeviationKind.MISSING_LINE))
    checks.extend(requirement_check(c, order) for c in p.requires)
    any_of = getattr(p, "requires_any", ())   # e.g. ER or PR positive
    if any_of:
        checks.append(any_of_check(any_of, order))
    checks.extend(exclusion_check(c, order) for c in p.excludes)
    if p.ecog_max is not None:
        status = None if order.ecog is None else order.ecog <= p.ecog_max
        checks.append(Check("ECOG", status, f"ECOG <= {p.ecog_max}",
                            "ECOG not reported" if order.ecog is None else f"ECOG {order.ecog}",
                            DeviationKind.MISSING_ECOG))
    if p.requires_stage:
        status = None if not dx.stage_group else True
        checks.append(Check("stage", status, "stage reported",
                            "stage not reported" if not dx.stage_group else f"stage {dx.stage_group}",
                            DeviationKind.MISSING_STAGE))
    return checks


def _or_not_reported(what: str, value: str) -> str:
    return f"{what} not reported" if value == "unknown" else f"{what} {value}"
