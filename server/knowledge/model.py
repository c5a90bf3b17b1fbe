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
    retired: str = ""        # not in the current CMS file (which one): names the drug, never billed, pends alone
    product: str = ""        # one labeler's product: billed only when the request names it


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
    formulation_of: str | None = None  # a distinct product of another drug's ingredient (liposomal
                                       # irinotecan, nab-paclitaxel): its own codes win over the ingredient's

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
    variants: tuple[str, ...] = ()     # any of, matched structurally (criteria.variant_matches)
    assay: str | None = None           # "IHC", "ISH", "NGS", "PCR": only results by this method count
    prefer_tissue: bool = False        # the label asks for tissue: a negative blood result is not final
    ihc_score: bool = False            # min/max are an IHC score (0, 1+, 2+, 3+): HER2-low is IHC 1+ to 2+

    @property
    def threshold(self) -> bool:
        return self.min_value is not None or self.max_value is not None

    def describe(self) -> str:
        """In words a clinician reads in a reason: "EGFR positive (exon 19 deletion or L858R)"."""
        if self.ihc_score:
            lo, hi = int(self.min_value if self.min_value is not None else 0), int(self.max_value if self.max_value is not None else 3)
            return f"{self.marker} IHC {lo}+" + (f" to {hi}+" if hi != lo else "")
        parts = [self.marker, " or ".join(r.value for r in self.results)]
        if self.assay:
            parts.append(f"by {self.assay}")
        if self.min_value is not None:
            parts.append(f">= {self.min_value:g}")
        if self.max_value is not None:
            parts.append(f"<= {self.max_value:g}")
        if self.variants:
            parts.append("(" + " or ".join(self.variants) + ")")
        return " ".join(parts)


@dataclass(frozen=True)
class Evidence:
    """Where a fact comes from: a label section (or compendium / pathway entry) and its date."""
    source: str                        # "Keytruda USPI (openFDA label JSON)"
    section: str = ""                  # "1.1 Non-Small Cell Lung Cancer"
    revised: str = ""                  # "07/2026" (label's Recent Major Changes / revision date)
    url: str = ""
    tag: str = "M"                     # V primary, V2 secondary, M unverified
    quote: str = ""                    # the label's indication text as read

    @property
    def verified(self) -> bool:
        """Only a primary source read (label section, pivotal trial, code file) may authorize at
        once; a secondary source (V2) or none (M) matches, then pends "unverified knowledge"."""
        return self.tag == "V"

    def cite(self) -> str:
        parts = [self.source]
        if self.section:
            parts.append(f"section {self.section}")
        if self.revised:
            parts.append(f"revised {self.revised}")
        text = ", ".join(parts) + f" [{self.tag}]"
        return text + (f" {self.url}" if self.url else "")


class Restriction(str, Enum):
    """Label limitations an indication carries beyond cancer type, setting and biomarkers."""
    NOT_CURATIVE_INTENT = "not-curative-intent"   # ESAs: not when the anticipated outcome is cure
    BONE_DISEASE = "bone-disease"                 # bone agents: bone metastases or myeloma


@dataclass(frozen=True)
class Attestation:
    """A label criterion no code in the record carries ("at high risk of recurrence", "IPI of two
    or greater"): a yes / no question on the program worksheet, in the label's words, that the
    ordering clinician answers (DTR). Yes meets it, no fails it, no answer pends."""
    key: str                         # linkId "attest.<key>"
    question: str                    # the worksheet's question (the label's words)
    short: str                       # for the card and the reviewer: "high risk of recurrence"


@dataclass(frozen=True)
class ProgressionInterval:
    """Disease that progressed within (`within` True) or only later than `months` after the last
    dose of one of `drugs` (platinum-resistant / -sensitive ovarian cancer; rituximab-refractory
    lymphoma): the label's wording of the interval, read from the record's treatment history."""
    drugs: tuple[str, ...]           # the drug keys whose last dose starts the interval
    months: int
    within: bool                     # True: progression within `months`; False: more than `months` later
    term: str = ""                   # the label's name for it ("platinum-resistant"), for the reviewer


@dataclass(frozen=True)
class Indication:
    cancer_types: tuple[str, ...]                       # CancerType keys
    requires: tuple[BiomarkerCriterion, ...] = ()       # all must hold
    requires_any: tuple[BiomarkerCriterion, ...] = ()   # at least one must hold (if non-empty)
    excludes: tuple[BiomarkerCriterion, ...] = ()       # none may hold
    settings: tuple[Setting, ...] = ()                  # empty = any setting
    excludes_settings: tuple[Setting, ...] = ()         # settings the label leaves out (metastatic for chemoradiation)
    id: str = ""                                        # "pembrolizumab-nsclc-nonsquamous-1l"
    histology: tuple[str, ...] = ()                     # histology group keys, any of (empty = any)
    histology_excludes: tuple[str, ...] = ()            # histology groups the label leaves out
    icd10_excludes: tuple[str, ...] = ()                # ICD-10-CM prefixes outside the indication
    stages: tuple[str, ...] = ()                        # stage groups, e.g. ("IIB", "IIC", "III")
    lines: tuple[LineOfTherapy, ...] = ()               # empty = any line
    after_prior: int = 0                                # prior lines of therapy required (1 = "after prior therapy")
    max_prior: int | None = None                        # at most this many prior lines ("one to three prior lines")
    partners: tuple[tuple[str, ...], ...] = ()          # each group: one of these drugs (or "category:x") on the request
    monotherapy: bool = False                           # no other therapeutic drug on the request
    restrictions: tuple[Restriction, ...] = ()
    age_min: int | None = None                          # years, at or above (the label's age range)
    age_max: int | None = None                          # years, at or below
    age_otherwise: str = ""                             # what else the label accepts outside the range (unreadable: pends)
    ecog_max: int | None = None                         # performance status the trial enrolled (ECOG at or below)
    menopause: str = ""                                 # "postmenopausal": the label's women (Faslodex)
    transplant: str = ""                                # "ineligible" / "eligible" for autologous SCT (worksheet attestation)
    attests: tuple[Attestation, ...] = ()               # label criteria attested on the worksheet (all must be yes)
    cisplatin_unfit: bool = False                       # EORTC 30986 "unfit for cisplatin": eGFR 30-60 and/or ECOG 2
    after_drugs: tuple[tuple[str, ...], ...] = ()       # each group: one of these drugs given before (induction, prior PD-1)
    not_after_drugs: tuple[str, ...] = ()               # none of these given before (a PD-1 inhibitor before a PD-1 re-treatment)
    progression: ProgressionInterval | None = None      # progression within / beyond months of a drug's last dose
    response_after: tuple[str, ...] = ()                # a documented complete / partial response after these drugs (maintenance)
    no_criteria: str = ""                               # stated reason when the label names only the cancer type
    evidence: Evidence | None = None

    @property
    def verified(self) -> bool:
        return self.evidence is not None and self.evidence.verified


@dataclass(frozen=True)
class DrugPolicy:
    """Medical policy for one managed drug (R3): met ⇒ Authorized; else pend."""
    drug_key: str
    indications: tuple[Indication, ...]
    source: str = ""


@dataclass(frozen=True)
class CycleOverride:
    """A cycle-specific change to a drug's schedule: a loading dose (trastuzumab 8 mg/kg in
    cycle 1), extra days (fulvestrant day 15 of cycle 1)."""
    cycles: tuple[int, ...]                     # the drug's own cycles (1-based) it applies to
    dose: float | None = None
    days: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Schedule:
    """One labelled way to give a drug within a phase (pembrolizumab 200 mg every 3 weeks, or
    400 mg every 6 weeks): its own cycle, days, number of cycles and dose."""
    label: str
    cycle_length_days: int
    administration_days: tuple[int, ...] = (1,)
    cycles: int | None = None                   # None: as many as the phase lasts (or until progression)
    frequency_per_day: int = 1
    dose: float | None = None
    dose_unit: str | None = None
    overrides: tuple[CycleOverride, ...] = ()


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
    # the schedule model: the fields above are the first schedule; `schedules` holds it and the
    # labelled alternatives, each with its cycle-specific overrides
    schedules: tuple[Schedule, ...] = ()
    dose_tolerance_pct: float = 10.0            # a dose further from the regimen's is a warning (R5)


@dataclass(frozen=True)
class Phase:
    """One part of a regimen given in sequence (neoadjuvant -> adjuvant, induction ->
    maintenance, loading -> maintenance)."""
    name: str
    cycle_length_days: int
    cycles: int | None                          # None: until progression (the last phase only)
    drugs: tuple[RegimenDrug, ...]
    fn_risk: FnRisk | None = None               # None: the regimen's


@dataclass(frozen=True)
class Regimen:
    id: str                                     # "breast-her2-met-thp"
    name: str                                   # "THP (docetaxel, trastuzumab, pertuzumab)"
    drugs: tuple[RegimenDrug, ...]              # every drug of the regimen, first entry of each
    fn_risk: FnRisk
    fixed_duration: bool                        # False = until progression (S0354 <= 6 months)
    planned_cycles: int | None = None
    cycle_length_days: int | None = None
    supportive: tuple[str, ...] = ()            # supportive drug keys expected with it
    source: str = ""
    phases: tuple[Phase, ...] = ()              # in sequence; one phase for a single-block regimen
    evidence: Evidence | None = None            # the regimen's primary source (tag V authorizes)
    fn_risk_source: str = ""                    # NCCN/ASCO list entry or the trial's FN rate
    attests: tuple[Attestation, ...] = ()        # the regimen's own label criteria, attested on the worksheet

    @property
    def verified(self) -> bool:
        return self.evidence is not None and self.evidence.verified

    @property
    def therapeutic_keys(self) -> frozenset[str]:
        return frozenset(d.drug_key for d in self.drugs if not d.optional)

    @property
    def plan(self) -> tuple[Phase, ...]:
        """The phases; a regimen built without them is one phase of its flat fields."""
        if self.phases:
            return self.phases
        length = self.cycle_length_days or next((d.cycle_length_days for d in self.drugs if d.cycle_length_days), 1)
        return (Phase("regimen", length, self.planned_cycles if self.fixed_duration else None, self.drugs),)

    def phase_runs(self) -> list[tuple[int, int]]:
        """Every contiguous run of phases (first, last), the whole regimen first: an order may
        be for the regimen, one phase, or phases in a row (the neoadjuvant part alone)."""
        n = len(self.plan)
        runs = [(0, n - 1)] if n else []
        runs += [(i, j) for length in range(n - 1, 0, -1) for i in range(n - length + 1)
                 for j in (i + length - 1,)]
        return runs

    def run_drugs(self, first: int, last: int) -> tuple[RegimenDrug, ...]:
        seen: dict[str, RegimenDrug] = {}
        for ph in self.plan[first:last + 1]:
            for d in ph.drugs:
                seen.setdefault(d.drug_key, d)
        return tuple(seen.values())


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
    histology: tuple[str, ...] = ()             # histology group keys, any of (empty = any)
    histology_excludes: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()                # stage groups, any of (empty = any), e.g. ("III",)

    def active_on(self, day: date) -> bool:
        return self.effective <= day and (self.retired is None or day < self.retired)


@dataclass(frozen=True)
class CancerType:
    key: str                                    # "breast", "nsclc", "colorectal", ...
    name: str
    icd10_prefixes: tuple[str, ...]             # "C50", "C34", "C18", "C19", "C20"
    snomed: tuple[str, ...] = ()
    histology_snomed: tuple[str, ...] = ()      # refines e.g. NSCLC vs SCLC
    icd10_excludes: tuple[str, ...] = ()        # prefixes under icd10_prefixes that are another disease (C25.4)
    histology_excludes: tuple[str, ...] = ()    # histology groups that are another disease (small cell under C34)
    histology: tuple[str, ...] = ()             # this type is only these histology groups (SCLC under C34)
    kind: str = "solid"                         # solid | hematologic | agnostic-solid (tumour-agnostic group)

    @property
    def agnostic(self) -> bool:
        return self.kind == "agnostic-solid"

    def fits_histology(self, groups: frozenset[str]) -> bool:
        """The diagnosis's histology groups allow this type: one of `histology` if it names
        any, none of `histology_excludes`."""
        if self.histology and not groups & set(self.histology):
            return False
        return not groups & set(self.histology_excludes)


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
    # drug key -> {(system, code): evidence tag} for its RxNorm and HCPCS codes (kb stats / check)
    code_tags: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict, repr=False)
    # SNOMED CT diagnosis code -> evidence tag of its mapping to a cancer type (only V authorizes)
    snomed_tags: dict[str, str] = field(default_factory=dict, repr=False)
    # SNOMED CT diagnosis codes whose concept is broader than the cancer type they name (read, V)
    snomed_broader: frozenset[str] = frozenset()
    # (system, code) of a histology group's morphology code -> its evidence tag
    histology_tags: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    # indexes, built by the loader (see build_indexes)
    by_code: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    pathways_by_cancer: dict[str, tuple[Pathway, ...]] = field(default_factory=dict, repr=False)
    regimens_by_drugset: dict[tuple[str, frozenset[str]], tuple[tuple[Pathway, Regimen], ...]] = field(
        default_factory=dict, repr=False)
    # diagnosis code -> cancer type: ICD-10-CM prefix -> (position in cancer_types, key); SNOMED code -> key
    cancer_by_icd10_prefix: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict, repr=False)
    cancer_by_snomed: dict[str, str] = field(default_factory=dict, repr=False)
    trial_markers: frozenset[str] = field(default_factory=frozenset, repr=False)
    drug_names: dict[str, str] = field(default_factory=dict, repr=False)   # name words -> drug key
    # histology group key -> (system, code) pairs; and the reverse index built at load
    histology_groups: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    histology_by_code: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict, repr=False)
    # cancer type -> its indications by drug key (precomputed so policy review never scans all policies)
    indications_by_cancer: dict[tuple[str, str], tuple[Indication, ...]] = field(default_factory=dict, repr=False)
    # cancer type -> the indications that name it (what its worksheet asks), indexed at load
    labels_by_cancer: dict[str, tuple[Indication, ...]] = field(default_factory=dict, repr=False)

    def histology_of(self, codes, verified_only: bool = False) -> frozenset[str] | None:
        """The histology groups the codes name; None when no histology code was sent at all.
        `verified_only`: only through codes whose group membership was read in a primary source."""
        codes = tuple(codes)
        if not codes:
            return None
        found: set[str] = set()
        for c in codes:
            if verified_only and self.histology_tags.get((c.system, c.code), "V") != "V":
                continue
            found |= self.histology_by_code.get((c.system, c.code), frozenset())
        return frozenset(found)

    def indications_for(self, drug_key: str, cancer_key: str | None) -> tuple[Indication, ...]:
        if cancer_key is None:
            return ()
        return self.indications_by_cancer.get((drug_key, cancer_key), ())

    def is_anticancer_code(self, code: Code) -> bool:
        """A code the program reviews even when the knowledge base does not hold it: a known drug,
        or an HCPCS J9000–J9999 code (the HCPCS "chemotherapy drugs" range; route is infusion or
        injection by definition). Such an order goes to review and pends when unknown there."""
        if self.drug_for(code) is not None:
            return True
        value = (code.code or "").strip().upper()
        return code.system == HCPCS and len(value) == 5 and value.startswith("J9") and value[2:].isdigit()

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

    def cancer_type_for(self, codes: tuple[Code, ...], histology: frozenset[str] | None = None) -> CancerType | None:
        """The first cancer type (in knowledge-base order) that a code names, codes in turn.
        Types sharing a code are told apart by the diagnosis's histology groups: a type with
        `histology` needs one of them, a type with `histology_excludes` is passed over for
        them (C34 small cell is SCLC, not NSCLC). With no type fitting the histology, the first
        by code is returned so the caller can say why it is not that disease.
        Indexed: the cost does not grow with the number of cancer types."""
        groups = histology or frozenset()
        if not self.cancer_by_icd10_prefix and not self.cancer_by_snomed:
            return self._cancer_type_scan(codes, groups)
        for code in codes:
            if code.system == ICD10CM:
                text = code.code.upper()
                hits = [hit for n in range(len(text) + 1)
                        for hit in self.cancer_by_icd10_prefix.get(text[:n], ())]
                hits = [h for h in hits if not text.startswith(self.cancer_types[h[1]].icd10_excludes or ("\0",))]
                fitting = [h for h in hits if self.cancer_types[h[1]].fits_histology(groups)]
                if fitting or hits:
                    return self.cancer_types[min(fitting or hits)[1]]
            elif code.system == SNOMED:
                key = self.cancer_by_snomed.get(code.code)
                if key is not None:
                    return self.cancer_types[key]
        return None

    def _cancer_type_scan(self, codes: tuple[Code, ...], groups: frozenset[str] = frozenset()) -> CancerType | None:
        for code in codes:
            hits = [ct for ct in self.cancer_types.values()
                    if (code.system == ICD10CM and code.code.upper().startswith(ct.icd10_prefixes)
                        and not (ct.icd10_excludes and code.code.upper().startswith(ct.icd10_excludes)))
                    or (code.system == SNOMED and code.code in ct.snomed)]
            fitting = [ct for ct in hits if ct.fits_histology(groups)]
            if fitting or hits:
                return (fitting or hits)[0]
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
    # a tumour-agnostic group's pathways and indications apply to every solid cancer type
    solid = tuple(ct.key for ct in kb.cancer_types.values() if ct.kind == "solid")
    agnostic = {ct.key for ct in kb.cancer_types.values() if ct.agnostic}

    def applies_to(key: str) -> tuple[str, ...]:
        return solid if key in agnostic else (key,)

    for p in kb.pathways:
        for ct in applies_to(p.cancer_type):
            by_cancer.setdefault(ct, []).append(p)
            for r in p.regimens:
                for variant in _drugset_variants(r):
                    by_set.setdefault((ct, variant), []).append((p, r))
    icd10: dict[str, list[tuple[int, str]]] = {}
    snomed: dict[str, str] = {}
    for position, ct in enumerate(kb.cancer_types.values()):
        for prefix in ct.icd10_prefixes:
            icd10.setdefault(prefix, []).append((position, ct.key))
        for code in ct.snomed:
            snomed.setdefault(code, ct.key)
    histology: dict[tuple[str, str], set[str]] = {}
    for group, codes in kb.histology_groups.items():
        for pair in codes:
            histology.setdefault(pair, set()).add(group)
    by_indication: dict[tuple[str, str], list[Indication]] = {}
    labels: dict[str, list[Indication]] = {}
    for pol in kb.policies.values():
        for ind in pol.indications:
            for key in ind.cancer_types:
                labels.setdefault(key, []).append(ind)
                for ct in applies_to(key):
                    by_indication.setdefault((pol.drug_key, ct), []).append(ind)
    object.__setattr__(kb, "histology_by_code", {k: frozenset(v) for k, v in histology.items()})
    object.__setattr__(kb, "indications_by_cancer", {k: tuple(v) for k, v in by_indication.items()})
    object.__setattr__(kb, "labels_by_cancer", {k: tuple(v) for k, v in labels.items()})
    object.__setattr__(kb, "by_code", by_code)
    object.__setattr__(kb, "drug_names", _drug_name_index(kb.drugs.values()))
    object.__setattr__(kb, "cancer_by_icd10_prefix", {k: tuple(v) for k, v in icd10.items()})
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
    """Every therapeutic drug set that counts as this regimen or a contiguous run of its phases:
    optional drugs in or out, interchangeable drugs swapped. Small by construction."""
    out: list[frozenset[str]] = []
    runs = [r.run_drugs(i, j) for i, j in r.phase_runs()] or [r.drugs]
    for drugs in runs:
        sets: list[frozenset[str]] = [frozenset()]
        for d in drugs:
            choices: list[frozenset[str]] = [frozenset({d.drug_key})] + [frozenset({a}) for a in d.alternatives]
            if d.optional:
                choices.append(frozenset())
            sets = [s | c for s in sets for c in choices]
        out += [s for s in sets if s]
    return list(dict.fromkeys(out))
