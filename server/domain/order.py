"""The order as the program's worksheet describes it.

Plain dataclasses: no Flask, FHIR or SQL here. Both doors (CDS Hooks and PAS) map their
input into an `Order`; the review engine reads only this.

Unknown / not reported is a value, never a guess: categorical fields carry an explicit
UNKNOWN member, and numeric fields use None to mean "not reported".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from server.domain.calendar import DoseSegment


class LineOfBusiness(str, Enum):
    MEDICARE_ADVANTAGE = "medicare-advantage"
    COMMERCIAL_HMO = "commercial-hmo"  # includes POS
    COMMERCIAL_PPO = "commercial-ppo"  # includes EPO
    MEDICAID = "medicaid"
    DUAL_ELIGIBLE = "dual-eligible"
    FEP = "fep"
    UNKNOWN = "unknown"


class NetworkStatus(str, Enum):
    IN_NETWORK = "in-network"
    OUT_OF_NETWORK = "out-of-network"
    UNKNOWN = "unknown"


class ProviderKind(str, Enum):
    INDIVIDUAL = "individual"      # Practitioner / PractitionerRole
    ORGANIZATION = "organization"  # facility
    UNKNOWN = "unknown"


IHC_SCORE = "IHC score"        # Biomarker.unit of an IHC score reading (HER2 0, 1+, 2+, 3+)


class Setting(str, Enum):
    """Disease setting / treatment intent."""
    NEOADJUVANT = "neoadjuvant"
    ADJUVANT = "adjuvant"
    METASTATIC = "metastatic"      # includes advanced / unresectable
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


class LineOfTherapy(str, Enum):
    FIRST = "1L"
    SECOND = "2L"
    THIRD_PLUS = "3L+"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


class DrugRole(str, Enum):
    THERAPEUTIC = "therapeutic"          # chemotherapy, immunotherapy, targeted, hormonal
    SUPPORTIVE = "supportive"            # growth factors, antiemetics, bone agents, ...
    INVESTIGATIONAL = "investigational"  # clinical-trial drug: not reviewed (R14)
    UNKNOWN = "unknown"                  # let the knowledge base decide


class BiomarkerResult(str, Enum):
    POSITIVE = "positive"      # also: present, amplified, high (MSI-H, TMB-high), detected
    NEGATIVE = "negative"      # also: absent, not amplified, wild-type, MSS
    EQUIVOCAL = "equivocal"    # e.g. HER2 IHC 2+ without ISH
    UNKNOWN = "unknown"        # not reported / indeterminate


class Urgency(str, Enum):
    URGENT = "urgent"
    STANDARD = "standard"


@dataclass(frozen=True)
class Code:
    """A coded value as it arrived: (system, code, display). Resolved later via the knowledge base."""
    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True)
class Member:
    id: str | None
    birth_date: date | None = None
    line_of_business: LineOfBusiness = LineOfBusiness.UNKNOWN
    network_status: NetworkStatus = NetworkStatus.UNKNOWN
    plan_name: str | None = None
    coverages: tuple[LineOfBusiness, ...] = ()   # line of business of EVERY Coverage on file (R12)

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True)
class Provider:
    npi: str | None
    name: str | None = None
    kind: ProviderKind = ProviderKind.UNKNOWN
    network_status: NetworkStatus = NetworkStatus.UNKNOWN
    reference: str | None = None   # e.g. "Practitioner/123", for echoing back


@dataclass(frozen=True)
class Diagnosis:
    codes: tuple[Code, ...]                  # ICD-10-CM and/or SNOMED, primary cancer first
    histology: tuple[Code, ...] = ()
    stage_group: str | None = None           # e.g. "IIB", "IV"; None = not reported
    setting: Setting = Setting.UNKNOWN
    line_of_therapy: LineOfTherapy = LineOfTherapy.UNKNOWN
    metastatic_sites: tuple[Code, ...] = ()  # secondary cancer conditions (C77–C79)


@dataclass(frozen=True)
class Biomarker:
    """One tumor-marker / genomic result.

    `name` is the program's key (HER2, ER, PR, PDL1_TPS, PDL1_CPS, EGFR, ALK, ROS1, BRAF,
    KRAS, NRAS, MSI, MMR, TMB, BRCA, CD20, NTRK, MET, RET, ...) resolved by the mapping
    from LOINC / HGNC codes through its data tables.
    """
    name: str
    result: BiomarkerResult
    value: float | None = None
    unit: str | None = None
    variant: str | None = None        # e.g. "V600E", "L858R", "exon 19 deletion"
    method: str | None = None         # e.g. "IHC", "ISH", "NGS"
    code: Code | None = None          # the source code (LOINC) for tracing
    # evidence: where the reading comes from, so a decision can say which one it used
    source_ref: str | None = None     # "Observation/abc"
    effective: str | None = None      # ISO date(time) text of the reading
    specimen: str | None = None       # "tissue" | "blood" | None (not stated)
    # structured variant (mCODE GenomicVariant), filled by the mapping when it can tell
    protein_hgvs: str | None = None   # "p.Glu746_Ala750del", "p.Leu858Arg"
    exon: int | None = None           # exon the variant lies in (from the HGVS codons, or reported)
    variant_type: str | None = None   # "substitution", "deletion", "insertion", "delins", "fusion", ...

    @property
    def quantitative(self) -> bool:
        return self.value is not None

    @property
    def value_words(self) -> str:
        """The value as a report states it: "60 %", "IHC 1+" (an IHC score keeps its notation)."""
        if self.value is None:
            return ""
        if self.unit == IHC_SCORE:
            return f"IHC {self.value:g}+"
        return f"{self.value:g}" + (f" {self.unit}" if self.unit else "")

    def evidence_words(self) -> str:
        """"Observation/abc (2026-10-01): PDL1_TPS positive 60 %" -- what a trace line names."""
        where = self.source_ref or (f"{self.code.system}|{self.code.code}" if self.code else "reported result")
        when = f" ({self.effective[:10]})" if self.effective else ""
        value = f" {self.value_words}" if self.value is not None else ""
        variant = f" {self.protein_hgvs or self.variant}" if (self.protein_hgvs or self.variant) else ""
        method = f" by {self.method}" if self.method else ""
        specimen = f" in {self.specimen}" if self.specimen else ""
        return f"{where}{when}: {self.name} {self.result.value}{value}{variant}{method}{specimen}"


@dataclass(frozen=True)
class DrugLine:
    """One drug of the regimen, as ordered (a draft MedicationRequest or a Claim item)."""
    ref: str                                  # "MedicationRequest/abc" or "item/1": for echoing
    codes: tuple[Code, ...]                   # RxNorm, HCPCS, NDC as they arrived
    display: str | None = None
    role: DrugRole = DrugRole.UNKNOWN
    route: str | None = None                  # "IV", "SC", "PO", ...
    dose: float | None = None
    dose_unit: str | None = None              # "mg", "mg/m2", "mg/kg", "AUC", "mcg"
    cycle_length_days: int | None = None
    administration_days: tuple[int, ...] = ()  # days of the cycle, e.g. (1, 8, 15)
    cycles: int | None = None                 # planned number of cycles; None = not reported
    until_progression: bool = False
    frequency_per_day: int | None = None
    quantity: float | None = None             # billing units requested (PAS item quantity)
    quantity_unit: str | None = None
    start: date | None = None
    end: date | None = None
    # The administration calendar as FHIR Timing states it (server/domain/calendar.py): each
    # dosage instruction in sequence, offsets in days from `start`. Empty = no timing given.
    # The flat fields above summarize its first segment for displays.
    segments: tuple[DoseSegment, ...] = ()
    start_offset_days: int = 0               # days after the order's first line (RequestGroup sequencing)


def ehr_order_refs(refs) -> frozenset[str]:
    """The refs that name an EHR order ("MedicationRequest/x"); a PAS line ("item/1") names
    nothing outside its own Claim, so it cannot tell two requests apart."""
    return frozenset(r for r in refs if r and "/" in r and not r.startswith("item/"))


# A label criterion attested on the program worksheet: linkId "attest.<key>", answered yes / no
# (a boolean, or its words).
ATTEST_PREFIX = "attest."
YES_NO = {"true": True, "yes": True, "y": True, "false": False, "no": False, "n": False}


def read_attestations(answers: dict[str, str]) -> tuple[dict[str, bool], list[str]]:
    """The worksheet's attest.<key> answers: {key: yes / no}, and the linkIds answered with
    something else (blank answers are neither)."""
    found: dict[str, bool] = {}
    unreadable: list[str] = []
    for link_id, value in sorted(answers.items()):
        if not link_id.startswith(ATTEST_PREFIX) or not value.strip():
            continue
        yes = YES_NO.get(value.strip().lower())
        if yes is None:
            unreadable.append(link_id)
        else:
            found[link_id[len(ATTEST_PREFIX):]] = yes
    return found, unreadable


@dataclass(frozen=True)
class PriorCourse:
    """One completed or stopped cancer treatment record of the patient: its drug codes and the
    last date it states (an administration's date; a request's last timing event or bounds end,
    else when it was written). Labels that count from the last platinum dose read it."""
    codes: tuple[Code, ...]
    last: date | None = None


@dataclass(frozen=True)
class Order:
    """A whole regimen request (R1): everything the worksheet asks for."""
    request_id: str                            # hookInstance, or Claim identifier
    member: Member
    ordering_provider: Provider
    servicing_provider: Provider | None
    diagnosis: Diagnosis
    drugs: tuple[DrugLine, ...]
    treatment_start: date | None
    received_at: datetime                      # when we got it (UTC): drives R9 and R10
    biomarkers: tuple[Biomarker, ...] = ()
    ecog: int | None = None                    # 0–5; None = not reported
    menopause: str | None = None               # "postmenopausal" / "premenopausal"; None = not reported
    transplant: str | None = None              # autologous SCT candidacy attested on the worksheet: "eligible" / "ineligible"
    egfr: float | None = None                  # estimated GFR, mL/min/1.73 m2; None = not reported
    attested: tuple[tuple[str, bool], ...] = ()  # worksheet attestations of label criteria: (key, yes / no)
    urgency: Urgency = Urgency.STANDARD
    clinical_trial_nct: str | None = None
    supportive_only: bool = False
    prior_order_id: str | None = None          # R7: the earlier Order ID a supportive-only request refers to
    prior_medications: tuple[Code, ...] = ()   # drug codes of the record's completed / stopped cancer treatment
    prior_courses: tuple[PriorCourse, ...] = ()  # the same records with their last dates
    progressions: tuple[date, ...] = ()        # dates of documented disease progression (mCODE disease status "worsened")
    prior_line_count: int | None = None        # prior lines of therapy, when stated (the worksheet)
    responses: tuple[date, ...] = ()           # dates of a documented complete or partial response (remission)
    fn_risk_factors: frozenset[str] = field(default_factory=frozenset)
    payer_id: str | None = None
    weight_kg: float | None = None             # body weight from the record (dose per kg)
    height_cm: float | None = None
    bsa_m2: float | None = None                # body surface area (reported, or computed from height and weight)

    def biomarker(self, name: str) -> Biomarker | None:
        """The most informative result for a marker: a known result beats an unknown one, then
        the most recent. Criteria choose among all readings themselves (engine/criteria.py)."""
        found = self.readings(name)
        if not found:
            return None
        definitive = (BiomarkerResult.POSITIVE, BiomarkerResult.NEGATIVE)
        return max(found, key=lambda b: (b.result in definitive, b.result is not BiomarkerResult.UNKNOWN,
                                         b.effective or ""))

    def attestation(self, key: str) -> bool | None:
        """The worksheet's yes / no to a label criterion; None = not answered."""
        return next((yes for k, yes in self.attested if k == key), None)

    def readings(self, name: str) -> tuple[Biomarker, ...]:
        """Every reading of a marker, in the order the mapping gave them."""
        return tuple(b for b in self.biomarkers if b.name == name)


@dataclass(frozen=True)
class PriorCase:
    """A case already on file for the member: what R7, R8 and R15 look back at."""
    order_id: str
    request_id: str
    status: str                       # CaseStatus value
    drug_keys: frozenset[str]
    start: date | None
    end: date | None
    regimen_id: str | None = None
    s0353_awarded_on: date | None = None
    order_refs: frozenset[str] = frozenset()   # the EHR orders it was made from ("MedicationRequest/x")
    provider_npi: str | None = None            # who submitted it (R8 names only one's own orders)


@dataclass(frozen=True)
class History:
    prior_cases: tuple[PriorCase, ...] = ()

    @classmethod
    def empty(cls) -> "History":
        return cls(())
