"""Three-valued criteria: True (met), False (not met), None (unknown / not reported).

Unknown is never read as met or as failed: it pends (R3, R5).

The evidence model: every reading of a marker is considered and one is chosen by an explicit
precedence (`choose_reading`): for a numeric threshold only a quantitative result counts (a
"positive" without a number is unknown); a result by another assay than the criterion names
does not count; tissue beats blood where the label asks for tissue (a negative blood result is
then not final); a definitive result beats an equivocal or unknown one; then the most recent.
Each Check says which reading it used (`evidence`), so the trace can name the Observation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from server.domain.decision import DeviationKind
from server.domain.order import IHC_SCORE, Biomarker, BiomarkerResult, Order
from server.knowledge.model import Attestation, BiomarkerCriterion, Knowledge, Pathway, Regimen

Tri = bool | None


@dataclass(frozen=True)
class Check:
    """One pathway or policy criterion, evaluated for this patient."""
    what: str                 # "HER2", "setting", "line of therapy", "ECOG", "stage"
    status: Tri
    required: str             # what the criterion asks for, in words
    reported: str             # what the order says, in words
    missing_kind: DeviationKind
    evidence: str = ""        # the reading used: "Observation/x (2026-10-01): PDL1_TPS positive 60 %"


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
        # an IHC score in the notation of the report: "HER2 negative (IHC 1+)"
        parts.append(f"({b.value_words})" if b.unit == IHC_SCORE else b.value_words)
    if b.protein_hgvs or b.variant:
        parts.append(f"({b.protein_hgvs or b.variant})")
    return " ".join(parts)


_DEFINITIVE = (BiomarkerResult.POSITIVE, BiomarkerResult.NEGATIVE)


def choose_reading(c: BiomarkerCriterion, readings: tuple[Biomarker, ...]) -> tuple[Biomarker | None, str]:
    """The reading a criterion is judged on, and why the others were set aside ("" if none was)."""
    if not readings:
        return None, ""
    candidates = list(readings)
    note = ""
    if c.assay:
        same = [b for b in candidates if b.method is None or b.method.upper() == c.assay.upper()]
        if not same:
            return None, f"no {c.marker} result by {c.assay}"
        candidates = same
    if c.threshold:
        numeric = [b for b in candidates if b.quantitative]
        if not numeric:
            return None, f"{c.marker} reported without a number: the threshold cannot be judged"
        if len(numeric) < len(candidates):
            note = "quantitative result preferred over a qualitative one"
        candidates = numeric
    if c.prefer_tissue:
        tissue = [b for b in candidates if b.specimen == "tissue"]
        if tissue and len(tissue) < len(candidates):
            note = "tissue result preferred over blood"
            candidates = tissue
    best = max(candidates, key=lambda b: (b.result in _DEFINITIVE, b.result is not BiomarkerResult.UNKNOWN,
                                          b.effective or ""))
    if len(candidates) > 1 and not note:
        note = "most recent definitive result of several"
    return best, note


def evaluate_biomarker(c: BiomarkerCriterion, order: Order) -> tuple[Tri, Biomarker | None, str]:
    """Does the patient's chosen reading satisfy the criterion? Equivocal / unknown / missing ⇒ None."""
    b, note = choose_reading(c, order.readings(c.marker))
    if b is None:
        return None, None, note
    if c.threshold:
        held: Tri = ((c.min_value is None or b.value >= c.min_value)
                     and (c.max_value is None or b.value <= c.max_value))
    elif b.result in c.results:
        held = True
    elif b.result in (BiomarkerResult.EQUIVOCAL, BiomarkerResult.UNKNOWN):
        return None, b, note
    else:
        held = False
    if held and c.variants:
        matches = [variant_matches(v, b) for v in c.variants]
        held = True if True in matches else (None if None in matches else False)
    if held is False and c.prefer_tissue and b.specimen == "blood":
        return None, b, "negative blood result: the label asks for a tissue test"
    return held, b, note


def biomarker_holds(c: BiomarkerCriterion, order: Order) -> Tri:
    return evaluate_biomarker(c, order)[0]


# --- structured variants ----------------------------------------------------------------------

_EXON_SPEC = re.compile(r"^exon\s*(\d+)\s+(deletion|insertion|skipping|mutation)s?$", re.IGNORECASE)
# the same phrase inside a reported variant's text ("EGFR exon 20 insertion", "MET exon 14 skipping")
_EXON_IN_TEXT = re.compile(r"\bexon\s*(\d+)\s+(deletion|insertion|skipping|mutation)s?\b", re.IGNORECASE)
_PROTEIN_SPEC = re.compile(r"^p?\.?([A-Z])(\d+)([A-Z*]?)$")
_ONE_LETTER_RANGE = re.compile(r"^p?\.?([A-Z])(\d+)_([A-Z])(\d+)(del|ins|delins|dup)", re.IGNORECASE)
_AA3 = {"Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
        "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
        "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*"}
_HGVS_SUB = re.compile(r"p\.\(?([A-Z][a-z]{2})(\d+)([A-Z][a-z]{2}|\*)\)?$")
_HGVS_RANGE = re.compile(r"p\.\(?([A-Z][a-z]{2})(\d+)(?:_([A-Z][a-z]{2})(\d+))?(delins|del|ins|dup)")


@dataclass(frozen=True)
class VariantFacts:
    """What a reading says about its variant, structurally."""
    substitution: tuple[str, int, str] | None = None   # ("L", 858, "R")
    kind: str | None = None                              # deletion / insertion / delins / skipping
    exon: int | None = None


def variant_facts(b: Biomarker) -> VariantFacts:
    sub = None
    kind = b.variant_type
    exon = b.exon
    for text in (b.protein_hgvs, b.variant):
        t = (text or "").strip()
        if not t:
            continue
        t = t.split(":")[-1]
        if (m := _HGVS_SUB.search(t)) and m.group(1) in _AA3 and m.group(3) in _AA3:
            sub = sub or (_AA3[m.group(1)], int(m.group(2)), _AA3[m.group(3)])
        elif (m := _HGVS_RANGE.search(t)):
            kind = kind or _kind(m.group(5))
        elif (m := _PROTEIN_SPEC.match(t)):
            sub = sub or (m.group(1), int(m.group(2)), m.group(3))
        elif (m := _ONE_LETTER_RANGE.match(t)):
            kind = kind or _kind(m.group(5))
        elif (m := _EXON_IN_TEXT.search(t)):
            exon = exon or int(m.group(1))
            kind = kind or m.group(2).lower()
    return VariantFacts(sub, kind, exon)


def _kind(op: str) -> str:
    op = op.lower()
    return {"del": "deletion", "ins": "insertion", "dup": "insertion", "delins": "delins"}[op]


# Named variants by their label's words and abbreviation: Vanflyta section 1, "FLT3 internal tandem
# duplication (ITD)-positive".
_NAMED_VARIANTS = {"internal tandem duplication": ("internal tandem duplication", "ITD")}


def variant_matches(spec: str, b: Biomarker) -> Tri:
    """Structural match of a criterion's variant ("exon 19 deletion", "L858R", "V600") against a
    reading: True, False, or None when the reading does not say enough (no variant detail)."""
    facts = variant_facts(b)
    s = spec.strip()
    names = _NAMED_VARIANTS.get(s.lower())
    if names is not None:
        # a named alteration no HGVS expresses (FLT3-ITD): its name or abbreviation in the reading's
        # text meets it; a point substitution (FLT3 D835Y, a TKD mutation) does not; else unknown
        text = " ".join(x for x in (b.variant, b.protein_hgvs) if x)
        if any(re.search(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", text, re.IGNORECASE) for n in names):
            return True
        return False if facts.substitution is not None else None
    if facts == VariantFacts():
        return None
    if s.lower() == "fusion":
        # "RET fusion-positive": a fusion reading meets it; a point mutation or indel does not
        # (RET M918T is medullary thyroid cancer's, not the fusion label's); no detail is unknown
        if facts.kind == "fusion":
            return True
        return False if facts.substitution is not None or facts.kind is not None else None
    if _PROTEIN_SPEC.match(s.upper()) and not _EXON_SPEC.match(s):
        s = s.upper()
    if (m := _EXON_SPEC.match(s)):
        want_exon, want_kind = int(m.group(1)), m.group(2).lower()
        if facts.exon is None or facts.kind is None:
            return None if facts.substitution is None else False
        kinds = {"deletion": ("deletion", "delins"), "insertion": ("insertion", "delins")}.get(want_kind, (want_kind,))
        return facts.exon == want_exon and (want_kind == "mutation" or facts.kind in kinds)
    if (m := _PROTEIN_SPEC.match(s)):
        if facts.substitution is None:
            return False if facts.kind is not None else None
        ref, pos, alt = facts.substitution
        return ref == m.group(1) and pos == int(m.group(2)) and (not m.group(3) or alt == m.group(3))
    # a named variant the structure cannot express (a fusion name): whole-phrase comparison
    return (b.variant or "").strip().lower() == s.lower() or None


# --- histology, stage ---------------------------------------------------------------------------

def histology_check(groups: tuple[str, ...], excluded: tuple[str, ...], order: Order, kb: Knowledge) -> Check:
    found = kb.histology_of(order.diagnosis.histology)
    wanted = " or ".join(groups) if groups else ""
    required = (f"histology {wanted}" if groups else "") + \
        ((" and " if groups else "") + f"not {' or '.join(excluded)} histology" if excluded else "")
    if found is None:
        return Check("histology", None, required, "histology not reported", DeviationKind.MISSING_HISTOLOGY)
    shown = ", ".join(sorted(found)) or "histology code not classified (" + \
        ", ".join(c.code for c in order.diagnosis.histology) + ")"
    if excluded and found & set(excluded):
        return Check("histology", False, required, f"histology {shown}", DeviationKind.MISSING_HISTOLOGY)
    if groups:
        status: Tri = True if found & set(groups) else (False if found else None)
        if status is True and not (kb.histology_of(order.diagnosis.histology, verified_only=True) or set()) & set(groups):
            # met only through a morphology code whose group was not read in a primary source
            status, shown = None, shown + " (the code's group is not verified)"
    else:
        status = True
    return Check("histology", status, required, f"histology {shown}", DeviationKind.MISSING_HISTOLOGY)


_STAGE = re.compile(r"^(IV|III|II|I|0)([A-D]?)(\d?)$")


def stage_in(stage: str | None, allowed: tuple[str, ...]) -> Tri:
    """Stage group against allowed groups: "IIIA" is in ("III",), not in ("II",); unknown ⇒ None."""
    m = _STAGE.match((stage or "").strip().upper().removeprefix("STAGE ").strip())
    if m is None:
        return None
    for a in allowed:
        am = _STAGE.match(a)
        if am and am.group(1) == m.group(1) and m.group(2).startswith(am.group(2)):
            return True
    return False


# --- biomarker checks -------------------------------------------------------------------------

def requirement_check(c: BiomarkerCriterion, order: Order) -> Check:
    status, b, note = evaluate_biomarker(c, order)
    reported = reported_words(c.marker, b) if b is not None or not note else note
    return Check(c.marker, status, c.describe(), reported, DeviationKind.MISSING_BIOMARKER,
                 _evidence(b, note))


def exclusion_check(c: BiomarkerCriterion, order: Order) -> Check:
    held, b, note = evaluate_biomarker(c, order)
    status = None if held is None else not held
    reported = reported_words(c.marker, b) if b is not None or not note else note
    return Check(c.marker, status, f"not {c.describe()}", reported, DeviationKind.MISSING_BIOMARKER,
                 _evidence(b, note))


def any_of_check(criteria, order: Order) -> Check:
    """At least one criterion holds: True if any does, unknown if none fails outright."""
    results = [evaluate_biomarker(c, order) for c in criteria]
    states = [r[0] for r in results]
    status: Tri = True if True in states else (None if None in states else False)
    return Check(" or ".join(c.marker for c in criteria), status,
                 " or ".join(c.describe() for c in criteria),
                 ", ".join(reported_words(c.marker, r[1]) for c, r in zip(criteria, results)),
                 DeviationKind.MISSING_BIOMARKER,
                 "; ".join(e for r in results if (e := _evidence(r[1], r[2]))))


def _evidence(b: Biomarker | None, note: str) -> str:
    if b is None:
        return note
    return b.evidence_words() + (f" [{note}]" if note else "")


def pathway_checks(p: Pathway, order: Order, kb: Knowledge | None = None) -> list[Check]:
    """Every criterion of a pathway: setting, line, histology, biomarkers, ECOG, stage (R4, R5)."""
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
    if (p.histology or p.histology_excludes) and kb is not None:
        checks.append(histology_check(p.histology, p.histology_excludes, order, kb))
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
    if p.stages:
        checks.append(Check("stage", stage_in(dx.stage_group, tuple(p.stages)), "stage " + " or ".join(p.stages),
                            f"stage {dx.stage_group}" if dx.stage_group else "stage not reported",
                            DeviationKind.MISSING_STAGE))
    elif p.requires_stage:
        status = None if not dx.stage_group else True
        checks.append(Check("stage", status, "stage reported",
                            "stage not reported" if not dx.stage_group else f"stage {dx.stage_group}",
                            DeviationKind.MISSING_STAGE))
    return checks


def regimen_checks(r: Regimen, order: Order) -> list[Check]:
    """The regimen's own label criteria beyond its pathway's (monarchE's high risk of recurrence)."""
    return [attestation_check(a, order) for a in r.attests]


def attestation_check(att: Attestation, order: Order) -> Check:
    """A label criterion the record cannot carry, answered yes / no on the program worksheet by the
    ordering clinician: yes meets it, no fails it (off label), no answer pends (the card asks it)."""
    yes = order.attestation(att.key)
    reported = ("worksheet attestation not reported" if yes is None else
                "reported a yes on the worksheet" if yes else "reported a no on the worksheet")
    return Check("worksheet attestation", yes, f"{att.short}, attested on the worksheet", reported,
                 DeviationKind.MISSING_ATTESTATION)


def _or_not_reported(what: str, value: str) -> str:
    return f"{what} not reported" if value == "unknown" else f"{what} {value}"
