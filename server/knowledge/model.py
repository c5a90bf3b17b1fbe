"""The pathway knowledge base as typed, immutable objects.

The YAML files under data/ are validated against schema/ and loaded into these (loader.py).
The engine only ever sees these objects, never the files. Indexes are built once at load so
that matching cost does not grow with the number of pathways.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from server.domain.decision import Benefit
from server.domain.order import BiomarkerResult, Code, LineOfTherapy, Setting

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NDC = "http://hl7.org/fhir/sid/ndc"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"


class DrugCategory(str, Enum):
    CHEMOTHERAPY = "chemotherapy"
    IMMUNOTHERAPY = "immunotherapy"
    TARGETED = "targeted"
    HORMONAL = "hormonal"
    SUPPORTIVE = "supportive"


class FnRisk(str, Enum):
    HIGH = "high"                  # >20% (or dose-dense)
    INTERMEDIATE = "intermediate"  # 10–20%
    LOW = "low"                    # <10%


@dataclass(frozen=True)
class HcpcsCode:
    code: str
    unit_amount: float       # one billing unit = unit_amount of unit (e.g. 10 mg)
    unit: str                # "mg", "mcg", "units"
    description: str = ""


@dataclass(frozen=True)
class DoseRange:
    unit: str                # "mg/m2", "mg/kg", "mg", "AUC", "mcg/kg"
    min: float
    max: float


@dataclass(frozen=True)
class Drug:
    key: str                           # canonical lower-case name: "trastuzumab"
    name: str
    category: DrugCategory
    benefit: Benefit                   # medical = managed by the program (R2); pharmacy = PBM
    rxnorm: tuple[str, ...] = ()       # ingredient codes (and product codes where known)
    hcpcs: tuple[HcpcsCode, ...] = ()
    ndc_prefixes: tuple[str, ...] = () # labeler-product prefixes, for NDC-coded items
    growth_factor: bool = False        # G-CSF: R6 applies
    dose_range: tuple[DoseRange, ...] = ()
    contact: str | None = None         # who reviews it when not us (pharmacy benefit manager)
    source: str = ""
    synonyms: tuple[str, ...] = ()     # other names a label may use (brand, product name)

    @property
    def managed(self) -> bool:
        return self.benefit is Benefit.MEDICAL


@dataclass(frozen=True)
class BiomarkerCriterion:
    """A condition on one biomarker: result in `results`, and optional value bounds / variants."""
    marker: str
    results: tuple[BiomarkerResult, ...] = (BiomarkerResult.POSITIVE,)
    min_value: float | None = None
    max_value: float | None = None
    variants: tuple[str, ...] = ()     # any of, case-insensitive substring match

    def describe(self) -> str:
        """In words a clinician reads in a reason: "EGFR positive (exon 19 deletion or L858R)"."""
        parts = [self.marker, " or ".join(r.value for r in self.results)]
        if self.min_value is not None:
            parts.append(f">= {self.min_value:g}")
        if self.max_value is not None:
            parts.append(f"<= {self.max_value:g}")
        if self.variants:
            parts.append("(" + " or ".join(self.variants) + ")")
        return " ".join(parts)


@dataclass(frozen=True)
class Indication:
    cancer_types: tuple[str, ...]                       # CancerType keys
    requires: tuple[BiomarkerCriterion, ...] = ()       # all must hold
    requires_any: tuple[BiomarkerCriterion, ...] = ()   # at least one must hold (if non-empty)
    excludes: tuple[BiomarkerCriterion, ...] = ()       # none may hold
    settings: tuple[Setting, ...] = ()                  # empty = any setting


@dataclass(frozen=True)
class DrugPolicy:
    """Medical policy for one managed drug (R3): met ⇒ Authorized; else pend."""
    drug_key: str
    indications: tuple[Indication, ...]
    source: str = ""


@dataclass(frozen=True)
class RegimenDrug:
    drug_key: str
    cycle_length_days: int | None = None
    administration_days: tuple[int, ...] = (1,)
    cycles: int | None = None                  # planned cycles; None with until_progression
    until_progression: bool = False
    frequency_per_day: int = 1
    dose: float | None = None
    dose_unit: str | None = None
    optional: bool = False                      # may be left out without a deviation
    alternatives: tuple[str, ...] = ()          # interchangeable drug keys (e.g. cisplatin for carboplatin)


@dataclass(frozen=True)
class Regimen:
    id: str                                     # "breast-her2-met-thp"
    name: str                                   # "THP (docetaxel, trastuzumab, pertuzumab)"
    drugs: tuple[RegimenDrug, ...]
    fn_risk: FnRisk
    fixed_duration: bool                        # False = until progression (S0354 ≤ 6 months)
    planned_cycles: int | None = None
    cycle_length_days: int | None = None
    supportive: tuple[str, ...] = ()            # supportive drug keys expected with it
    source: str = ""

    @property
    def therapeutic_keys(self) -> frozenset[str]:
        return frozenset(d.drug_key for d in self.drugs if not d.optional)


@dataclass(frozen=True)
class Pathway:
    id: str                                     # "breast-her2pos-metastatic-1l"
    name: str
    cancer_type: str
    settings: tuple[Setting, ...]
    lines: tuple[LineOfTherapy, ...]            # empty = any line
    requires: tuple[BiomarkerCriterion, ...]    # all must hold
    excludes: tuple[BiomarkerCriterion, ...]    # none may hold
    regimens: tuple[Regimen, ...]               # in order of preference
    effective: date
    retired: date | None = None
    ecog_max: int | None = None                 # e.g. FOLFIRINOX needs ECOG 0–1
    requires_stage: bool = True                 # stage must be reported
    source: str = ""
    requires_any: tuple[BiomarkerCriterion, ...] = ()  # at least one must hold (if non-empty), e.g. MSI-H or dMMR

    def active_on(self, day: date) -> bool:
        return self.effective <= day and (self.retired is None or day < self.retired)


@dataclass(frozen=True)
class CancerType:
    key: str                                    # "breast", "nsclc", "colorectal", ...
    name: str
    icd10_prefixes: tuple[str, ...]             # "C50", "C34", "C18", "C19", "C20"
    snomed: tuple[str, ...] = ()
    histology_snomed: tuple[str, ...] = ()      # refines e.g. NSCLC vs SCLC


@dataclass(frozen=True)
class TrialArm:
    nct_id: str
    arm: str
    biomarker: BiomarkerCriterion
    drug: str
    cancer_types: tuple[str, ...] = ()          # empty = any solid tumor
    source: str = ""


@dataclass(frozen=True)
class Knowledge:
    version: str
    effective: date
    reviewed: date                              # R18: reviewed at least quarterly
    drugs: dict[str, Drug]
    policies: dict[str, DrugPolicy]
    cancer_types: dict[str, CancerType]
    pathways: tuple[Pathway, ...]
    trials: tuple[TrialArm, ...] = ()
    fn_risk_factors: frozenset[str] = frozenset()   # vocabulary of accepted patient risk factors
    fn_risk_derived: dict[str, dict] = field(default_factory=dict)   # factor key -> rule on the order (kb.yaml)
    program: dict[str, dict] = field(default_factory=dict, repr=False)  # code tables the mappings read (program/)
    # indexes, built by the loader (see build_indexes)
    by_code: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    pathways_by_cancer: dict[str, tuple[Pathway, ...]] = field(default_factory=dict, repr=False)
    regimens_by_drugset: dict[tuple[str, frozenset[str]], tuple[tuple[Pathway, Regimen], ...]] = field(
        default_factory=dict, repr=False)
    # diagnosis code -> cancer type: ICD-10-CM prefix -> (position in cancer_types, key); SNOMED code -> key
    cancer_by_icd10_prefix: dict[str, tuple[int, str]] = field(default_factory=dict, repr=False)
    cancer_by_snomed: dict[str, str] = field(default_factory=dict, repr=False)
    trial_markers: frozenset[str] = field(default_factory=frozenset, repr=False)
    drug_names: dict[str, str] = field(default_factory=dict, repr=False)   # name words -> drug key

    def drug_for(self, code: Code) -> Drug | None:
        """Resolve an RxNorm / HCPCS / NDC code to a drug (NDC by labeler-product prefix)."""
        key = self.by_code.get((code.system, code.code))
        if key is None and code.system == NDC:
            digits = code.code.replace("-", "")
            for d in self.drugs.values():
                if any(digits.startswith(p.replace("-", "")) for p in d.ndc_prefixes):
                    key = d.key
                    break
        return self.drugs.get(key) if key else None

    def drug_named_in(self, label: str | None) -> Drug | None:
        """The drug a label names, for a code the knowledge base does not hold (an RxNorm
        product such as "trastuzumab 150 MG Injection [Herceptin]"): the longest known name
        standing in it as whole words. None when none does, or two different drugs do."""
        words = name_words(label)
        for n in range(min(MAX_NAME_WORDS, len(words)), 0, -1):
            keys = {k for i in range(len(words) - n + 1)
                    if (k := self.drug_names.get(" ".join(words[i:i + n]))) is not None}
            if keys:
                return self.drugs[keys.pop()] if len(keys) == 1 else None
        return None

    def cancer_type_for(self, codes: tuple[Code, ...]) -> CancerType | None:
        """The first cancer type (in knowledge-base order) that a code names, codes in turn.
        Indexed: the cost does not grow with the number of cancer types."""
        if not self.cancer_by_icd10_prefix and not self.cancer_by_snomed:
            return self._cancer_type_scan(codes)
        for code in codes:
            if code.system == ICD10CM:
                text = code.code.upper()
                hits = [hit for n in range(len(text) + 1)
                        if (hit := self.cancer_by_icd10_prefix.get(text[:n])) is not None]
                if hits:
                    return self.cancer_types[min(hits)[1]]
            elif code.system == SNOMED:
                key = self.cancer_by_snomed.get(code.code)
                if key is not None:
                    return self.cancer_types[key]
        return None

    def _cancer_type_scan(self, codes: tuple[Code, ...]) -> CancerType | None:
        for code in codes:
            for ct in self.cancer_types.values():
                if code.system == ICD10CM and code.code.upper().startswith(ct.icd10_prefixes):
                    return ct
                if code.system == SNOMED and code.code in ct.snomed:
                    return ct
        return None

    def pathways_for(self, cancer_type: str, day: date) -> tuple[Pathway, ...]:
        return tuple(p for p in self.pathways_by_cancer.get(cancer_type, ()) if p.active_on(day))

    def regimens_with(self, cancer_type: str, therapeutic: frozenset[str]) -> tuple[tuple[Pathway, Regimen], ...]:
        return self.regimens_by_drugset.get((cancer_type, therapeutic), ())


def build_indexes(kb: Knowledge) -> Knowledge:
    """Fill the lookup indexes in place (the dataclass is frozen, so via object.__setattr__)."""
    by_code: dict[tuple[str, str], str] = {}
    for d in kb.drugs.values():
        for rx in d.rxnorm:
            by_code[(RXNORM, rx)] = d.key
        for h in d.hcpcs:
            by_code[(HCPCS, h.code)] = d.key
    by_cancer: dict[str, list[Pathway]] = {}
    by_set: dict[tuple[str, frozenset[str]], list[tuple[Pathway, Regimen]]] = {}
    for p in kb.pathways:
        by_cancer.setdefault(p.cancer_type, []).append(p)
        for r in p.regimens:
            for variant in _drugset_variants(r):
                by_set.setdefault((p.cancer_type, variant), []).append((p, r))
    icd10: dict[str, tuple[int, str]] = {}
    snomed: dict[str, str] = {}
    for position, ct in enumerate(kb.cancer_types.values()):
        for prefix in ct.icd10_prefixes:
            icd10.setdefault(prefix, (position, ct.key))
        for code in ct.snomed:
            snomed.setdefault(code, ct.key)
    object.__setattr__(kb, "by_code", by_code)
    object.__setattr__(kb, "drug_names", _drug_name_index(kb.drugs.values()))
    object.__setattr__(kb, "cancer_by_icd10_prefix", icd10)
    object.__setattr__(kb, "cancer_by_snomed", snomed)
    object.__setattr__(kb, "trial_markers", frozenset(arm.biomarker.marker for arm in kb.trials))
    object.__setattr__(kb, "pathways_by_cancer", {k: tuple(v) for k, v in by_cancer.items()})
    object.__setattr__(kb, "regimens_by_drugset", {k: tuple(v) for k, v in by_set.items()})
    return kb


MAX_NAME_WORDS = 6


def name_words(label: str | None) -> list[str]:
    """Lower-case words of a label: hyphens and punctuation separate words ("T-DM1" -> t dm1)."""
    return re.findall(r"[a-z0-9]+", label.lower()) if label else []


def _drug_name_index(drugs) -> dict[str, str]:
    """Every name a drug goes by (key, name, the name's parenthesis, synonyms) as words -> key.
    A name two drugs share names neither: it is dropped rather than guessed."""
    index: dict[str, str] = {}
    shared: set[str] = set()
    for d in drugs:
        outside, _, inside = d.name.partition("(")
        for label in (d.key, outside, inside.rstrip(")"), *d.synonyms):
            words = " ".join(name_words(label)[:MAX_NAME_WORDS])
            if not words:
                continue
            if index.setdefault(words, d.key) != d.key:
                shared.add(words)
    return {w: k for w, k in index.items() if w not in shared}


def _drugset_variants(r: Regimen) -> list[frozenset[str]]:
    """Every therapeutic drug set that counts as this regimen: optional drugs in or out,
    interchangeable drugs swapped. Small by construction (a few per regimen)."""
    sets: list[frozenset[str]] = [frozenset()]
    for d in r.drugs:
        choices: list[frozenset[str]] = [frozenset({d.drug_key})] + [frozenset({a}) for a in d.alternatives]
        if d.optional:
            choices.append(frozenset())
        sets = [s | c for s in sets for c in choices]
    return list(dict.fromkeys(sets))
