"""Observation -> one of: Biomarker(s), ECOG score, stage reading, line of therapy.

Which one is decided by the Observation's code through the data tables (biomarkers.yaml,
genes.yaml, staging.yaml, clinical.yaml); an Observation the tables do not know is ignored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from server.domain.order import IHC_SCORE, Biomarker, BiomarkerResult, LineOfTherapy

from mappings.fhir import (
    arr, codings, concept_text, has_code, lookup, obj, parse, profiles, raw_profiles, system, table,
    to_code,
)
from mappings.therapy import line_of_therapy_from_concept


@dataclass(frozen=True)
class StageReading:
    scale: str                # tnm-clinical, tnm-pathologic, figo, rai, ...
    stage: str | None         # "IIB", "IV", ...; None = value not readable
    group: bool               # True = a stage group the program reads


@dataclass(frozen=True)
class ObservationFacts:
    ref: str
    biomarkers: tuple[Biomarker, ...] = ()
    ecog: int | None = None
    menopause: str | None = None   # "postmenopausal" / "premenopausal" (program/clinical.yaml menopause)
    egfr: float | None = None      # mL/min/1.73 m2 (program/clinical.yaml egfr)
    stage: StageReading | None = None
    line_of_therapy: LineOfTherapy = LineOfTherapy.UNKNOWN
    effective: str | None = None   # ISO text, for choosing the most recent reading
    focus: tuple[str, ...] = field(default=())


def is_relevant(resource: dict) -> bool:
    """Cheap pre-check on raw JSON, so unrelated Observations are never validated (hot path)."""
    if resource.get("status") in ("entered-in-error", "cancelled"):
        return False
    keys = _relevant_keys()
    code = obj(resource.get("code"))
    for c in arr(code.get("coding")):
        system, value = obj(c).get("system"), obj(c).get("code")
        if not isinstance(value, str):
            continue  # malformed coding: not one we read, so it is never validated or used
        if (system if isinstance(system, str) else None, value) in keys or value in keys:
            return True
    if raw_profiles(resource) & set(table("staging")["profiles"]):
        return True
    text = code.get("text").lower() if isinstance(code.get("text"), str) else ""
    return any(t in text for t in table("biomarkers")["cps_text_markers"])


_RELEVANT: set | None = None


def _relevant_keys() -> set:
    global _RELEVANT
    if _RELEVANT is None:
        keys = set()
        biomarkers = table("biomarkers")
        for e in biomarkers["tests"] + biomarkers.get("immunophenotype", {}).get("tests", []) + table("staging")["types"]:
            keys.add((system(e["system"]), str(e["code"])))
        g = table("genes")["variant_code"]
        keys.add((system(g["system"]), g["code"]))
        for name in ("ecog", "menopause"):
            e = table("clinical")[name]["code"]
            keys.add((system(e["system"]), e["code"]))
        for e in table("clinical")["egfr"]["codes"]:
            keys.add((system(e["system"]), e["code"]))
        keys.add(table("clinical")["line_of_therapy"]["observation_code"])   # any ocpa-codes system
        _RELEVANT = keys
    return _RELEVANT


def observation_facts(resource: dict, path: str) -> ObservationFacts:
    obs = parse(resource, path, "Observation")
    ref = f"Observation/{obs.id}" if obs.id else path
    effective = str(obs.effectiveDateTime or (obs.effectivePeriod.start if obs.effectivePeriod else "") or obs.issued or "")
    focus = tuple(f.reference for f in (obs.focus or []) if f.reference)
    base = dict(ref=ref, effective=effective, focus=focus)

    clinical = table("clinical")
    ecog_code = clinical["ecog"]["code"]
    if has_code(obs.code, ecog_code["system"], ecog_code["code"]):
        return ObservationFacts(**base, ecog=_ecog(obs))
    egfr = clinical["egfr"]
    if any(has_code(obs.code, e["system"], e["code"]) for e in egfr["codes"]):
        q = obs.valueQuantity
        unit = (q.code or q.unit) if q is not None else None
        value = float(q.value) if q is not None and q.value is not None and unit in egfr["units"] else None
        return ObservationFacts(**base, egfr=value)
    meno = clinical["menopause"]
    if has_code(obs.code, meno["code"]["system"], meno["code"]["code"]):
        values = meno["values"]
        status = next((values[c.code] for c in codings(obs.valueCodeableConcept) if c.code in values
                       and c.system == system("snomed")), None) if obs.valueCodeableConcept else None
        return ObservationFacts(**base, menopause=status)

    lot = clinical["line_of_therapy"]
    if any(c.code == lot["observation_code"] and c.system in clinical["ocpa_code_systems"]
           for c in codings(obs.code)):
        return ObservationFacts(**base, line_of_therapy=line_of_therapy_from_concept(obs.valueCodeableConcept))

    variant = table("genes")["variant_code"]
    if has_code(obs.code, variant["system"], variant["code"]):
        return ObservationFacts(**base, biomarkers=tuple(with_evidence(b, obs, ref, effective)
                                                         for b in genomic_variant(obs)))

    stage_type = lookup(obs.code, table("staging")["types"])
    if stage_type is not None or set(profiles(obs)) & set(table("staging")["profiles"]):
        scale = stage_type["scale"] if stage_type else "unspecified"
        group = stage_type["group"] if stage_type else True
        stage = stage_from_concept(obs.valueCodeableConcept) if obs.valueCodeableConcept else None
        return ObservationFacts(**base, stage=StageReading(scale, stage, group))

    panel = table("biomarkers").get("immunophenotype")
    if panel and lookup(obs.code, panel["tests"]) is not None:
        return ObservationFacts(**base, biomarkers=tuple(with_evidence(b, obs, ref, effective)
                                                         for b in immunophenotype(obs, panel)))

    test = lookup(obs.code, table("biomarkers")["tests"])
    if test is None and _names_cps(obs):
        test = {"marker": "PDL1_CPS", "method": "IHC", "reading": "score", "positive_at_or_above": 1}
    if test is not None:
        return ObservationFacts(**base, biomarkers=(with_evidence(tumor_marker(obs, test), obs, ref, effective,
                                                                  test.get("specimen")),))
    return ObservationFacts(**base)


def with_evidence(b: Biomarker, obs, ref: str, effective: str, specimen: str | None = None) -> Biomarker:
    """The reading with where it came from: the Observation, its date and its specimen."""
    return replace(b, source_ref=ref, effective=effective or None, specimen=specimen or specimen_of(obs))


def specimen_of(obs) -> str | None:
    """tissue / blood from Observation.specimen's display, else the code's LOINC display."""
    words = table("biomarkers")["specimen_words"]
    texts = [(obs.specimen.display or "") if obs.specimen else ""] + [c.display or "" for c in codings(obs.code)]
    for text in texts:
        t = text.lower()
        if not t:
            continue
        hits = {kind for kind, ws in words.items() if any(w in t for w in ws)}
        if len(hits) == 1:
            return hits.pop()
    return None


# --- ECOG ------------------------------------------------------------------------------------

def _ecog(obs) -> int | None:
    if obs.valueInteger is not None:
        value = int(obs.valueInteger)
        return value if 0 <= value <= 5 else None
    answers = table("clinical")["ecog"]["answers"]
    for concept in [obs.valueCodeableConcept, *(obs.interpretation or [])]:
        for c in codings(concept):
            if c.code in answers:
                return int(answers[c.code])
    return None


# --- stage -----------------------------------------------------------------------------------

def stage_from_concept(concept) -> str | None:
    """A stage value (SNOMED / NCIt code, or an AJCC-style display) as the program's string."""
    if concept is None:
        return None
    hit = lookup(concept, table("staging")["values"])
    if hit is not None:
        return hit["stage"]
    pattern = re.compile(table("staging")["display_pattern"], re.IGNORECASE)
    for text in [concept.text, *(c.display for c in codings(concept))]:
        m = pattern.search(text or "")
        if m:
            return (m.group(1) + (m.group(2) or "")).upper()
    return None


# --- tumor markers ---------------------------------------------------------------------------

def tumor_marker(obs, test: dict) -> Biomarker:
    code = next((to_code(c) for c in codings(obs.code) if c.code == str(test.get("code", c.code))), None)
    code = code or (to_code(codings(obs.code)[0]) if codings(obs.code) else None)
    value = unit = None
    result = BiomarkerResult.UNKNOWN
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        value = float(obs.valueQuantity.value)
        unit = obs.valueQuantity.unit or obs.valueQuantity.code
        threshold = test.get("positive_at_or_above")
        if threshold is not None:
            result = BiomarkerResult.POSITIVE if value >= threshold else BiomarkerResult.NEGATIVE
    elif obs.valueCodeableConcept is not None:
        result = answer_result(obs.valueCodeableConcept)
    elif obs.valueString is not None:
        result = text_result(obs.valueString)
    if result is BiomarkerResult.UNKNOWN and value is None:
        for interp in obs.interpretation or []:
            result = answer_result(interp)
            if result is not BiomarkerResult.UNKNOWN:
                break
    if value is None and test.get("method") == "IHC":
        value = _ihc_score(test["marker"], obs)
        unit = IHC_SCORE if value is not None else unit
    return Biomarker(name=test["marker"], result=result, value=value, unit=unit,
                     variant=test.get("variant"), method=test.get("method"), code=code)


def _ihc_score(marker: str, obs) -> float | None:
    """The IHC score a qualitative answer states ("1+", "IHC 2+"), for the markers whose labels
    name scores (HER2-low is IHC 1+ or 2+/ISH-); None for any other answer."""
    cfg = table("biomarkers").get("ihc_scores") or {}
    if marker not in cfg.get("markers", ()):
        return None
    concept = obs.valueCodeableConcept
    texts = [obs.valueString] if obs.valueString is not None else (
        [concept.text, *(c.display for c in codings(concept))] if concept is not None else [])
    for text in texts:
        score = cfg["texts"].get((text or "").strip().lower())
        if score is not None:
            return float(score)
    return None


def answer_result(concept) -> BiomarkerResult:
    hit = lookup(concept, table("biomarkers")["answers"])
    if hit is not None:
        return BiomarkerResult(hit["result"])
    return text_result(concept_text(concept))


def text_result(text: str | None) -> BiomarkerResult:
    """Free-text answers, whole-phrase and case-insensitive (e.g. HER2 IHC '3+', '2+')."""
    t = (text or "").strip().lower()
    if not t:
        return BiomarkerResult.UNKNOWN
    texts = table("biomarkers")["answer_texts"]
    # Exact phrases first, so "not detected" is not read as "detected".
    for result, phrases in texts.items():
        if t in (p.lower() for p in phrases):
            return BiomarkerResult(result)
    best = None
    for result, phrases in texts.items():
        for p in phrases:
            if re.search(rf"(?<![\w+-]){re.escape(p.lower())}(?![\w+])", t):
                if best is None or len(p) > len(best[1]):
                    best = (result, p)
    return BiomarkerResult(best[0]) if best else BiomarkerResult.UNKNOWN


def _names_cps(obs) -> bool:
    text = (obs.code.text or "").lower() if obs.code else ""
    return any(t in text for t in table("biomarkers")["cps_text_markers"])


# --- immunophenotyping panels ----------------------------------------------------------------

_CLAUSE = re.compile(r"\b(positive|negative)\s+for\b(.*?)(?=\b(?:positive|negative)\s+for\b|[;.]|$)", re.I)
_ITEMS = re.compile(r",|\band\b|\bor\b|/", re.I)


def immunophenotype(obs, panel: dict) -> tuple[Biomarker, ...]:
    """'positive for CD10, CD79a, TdT, CD19, and CD20; negative for CD33' -> one reading per antigen.

    Only plain lists are read: a clause with a qualifier (dim, partial, subset ...) or a negation
    just before it says something a yes/no cannot carry, so its antigens stay unread (unknown)."""
    text = obs.valueString or (concept_text(obs.valueCodeableConcept) if obs.valueCodeableConcept else None)
    if not text:
        return ()
    code = to_code(codings(obs.code)[0]) if codings(obs.code) else None
    antigen = re.compile(panel["antigen_pattern"])
    qualifiers = {q.lower() for q in panel["qualifiers"]}
    found: dict[str, BiomarkerResult] = {}
    for m in _CLAUSE.finditer(text):
        before = re.findall(r"[\w?]+", text[max(0, m.start() - 12):m.start()].lower())
        words = set(re.findall(r"[\w?]+", m.group(2).lower()))
        if qualifiers & (words | set(before[-2:])) or "?" in m.group(2):
            continue
        result = BiomarkerResult.POSITIVE if m.group(1).lower() == "positive" else BiomarkerResult.NEGATIVE
        for item in _ITEMS.split(m.group(2)):
            name = re.sub(r"\s+", "", item).upper()
            if antigen.match(name):
                # the same antigen read both ways in one report is not a reading
                found[name] = result if found.get(name, result) is result else BiomarkerResult.UNKNOWN
    return tuple(Biomarker(name=name, result=result, method="immunophenotyping", code=code)
                 for name, result in found.items())


# --- genomic variants ------------------------------------------------------------------------

def genomic_variant(obs) -> tuple[Biomarker, ...]:
    """mCODE GenomicVariant: one Biomarker per gene studied, with the variant's short name."""
    genes_t = table("genes")
    comp = genes_t["component_codes"]
    genes: list[str] = []
    texts: dict[str, str] = {}
    for c in obs.component or []:
        key = next((k for k, v in comp.items() for cc in codings(c.code) if cc.code == v), None)
        if key == "gene_studied":
            symbol = _gene_symbol(c.valueCodeableConcept)
            if symbol and symbol not in genes:
                genes.append(symbol)
        elif key is not None and key not in texts:
            value = c.valueCodeableConcept
            if value is not None:
                texts[key] = concept_text(value) or (codings(value)[0].code if codings(value) else "")
            elif c.valueString:
                texts[key] = c.valueString
    result = answer_result(obs.valueCodeableConcept) if obs.valueCodeableConcept else BiomarkerResult.UNKNOWN
    variant = None
    if result is BiomarkerResult.POSITIVE:
        variant = (_short_protein(texts.get("protein_hgvs"))
                   or _short_protein(_protein_in(texts.get("variation_name")))
                   or texts.get("dna_hgvs") or texts.get("variation_name")
                   or texts.get("genomic_hgvs") or texts.get("structural_type")
                   or (texts.get("molecular_consequence") or "").replace("_", " ") or None)
        if variant is None and len(genes) > 1:
            variant = "-".join(genes) + " fusion"
    code = to_code(codings(obs.code)[0]) if codings(obs.code) else None
    method = "NGS" if any("sequenc" in (c.display or "").lower() for c in codings(obs.method)) else None
    protein = texts.get("protein_hgvs") or _protein_in(texts.get("variation_name"))
    protein = protein.strip() if protein and result is BiomarkerResult.POSITIVE else None
    return tuple(
        Biomarker(name=genes_t["markers"].get(g, g), result=result, variant=variant,
                  method=method, code=code, protein_hgvs=protein,
                  exon=_exon_of(g, protein), variant_type=_variant_type(protein, texts))
        for g in genes)


_HGVS_SPAN = re.compile(r"p\.\(?[A-Z][a-z]{2}(\d+)(?:_[A-Z][a-z]{2}(\d+))?(delins|del|ins|dup)")
_HGVS_POINT = re.compile(r"p\.\(?[A-Z][a-z]{2}(\d+)[A-Z][a-z]{2}\)?$")


def _variant_type(protein: str | None, texts: dict) -> str | None:
    m = _HGVS_SPAN.search(protein or "")
    if m:
        return {"del": "deletion", "ins": "insertion", "dup": "insertion", "delins": "delins"}[m.group(3)]
    if protein and _HGVS_POINT.search(protein):
        return "substitution"
    if "fusion" in (texts.get("structural_type") or "").lower() or "fusion" in (texts.get("variation_name") or "").lower():
        return "fusion"
    return None


def _exon_of(gene: str, protein: str | None) -> int | None:
    """The exon whose codon range holds the whole variant (genes.yaml exon_codons), else None."""
    ranges = table("genes").get("exon_codons", {}).get(gene)
    if not ranges or not protein:
        return None
    m = _HGVS_SPAN.search(protein) or re.search(r"p\.\(?[A-Z][a-z]{2}(\d+)()", protein)
    if not m:
        return None
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else start
    for exon, (lo, hi) in ranges.items():
        if lo <= start and end <= hi:
            return int(exon)
    return None


def _gene_symbol(concept) -> str | None:
    """HGNC id through the table first (displays in the wild are sometimes wrong), else a display."""
    hgnc = table("genes")["hgnc"]
    for cc in codings(concept):
        if cc.system == system("hgnc") and cc.code in hgnc:
            return hgnc[cc.code]
    for cc in codings(concept):
        if cc.display:
            return cc.display.strip().upper()
    text = concept_text(concept)
    return text.strip().upper() if text else None


_PROTEIN = re.compile(r"\(?(p\.\(?[A-Za-z]{3}\d+[A-Za-z*]{1,3}\)?)\)?")


def _protein_in(text: str | None) -> str | None:
    m = _PROTEIN.search(text or "")
    return m.group(1) if m else None


def _short_protein(hgvs: str | None) -> str | None:
    """p.Val600Glu / p.(Leu858Arg) -> V600E / L858R; other p. forms are kept as sent."""
    if not hgvs:
        return None
    aa = table("genes")["amino_acids"]
    m = re.fullmatch(r"(?:[\w.]+:)?p\.\(?([A-Z][a-z]{2})(\d+)([A-Z][a-z]{2}|\*)\)?", hgvs.strip())
    if m and m.group(1) in aa and (m.group(3) in aa or m.group(3) == "*"):
        return f"{aa[m.group(1)]}{m.group(2)}{aa.get(m.group(3), '*')}"
    return hgvs.strip()
