"""What the review engine decides, and why.

A Decision is rendered three ways (CDS cards + coverage-information, PAS ClaimResponse,
order summary) and stored with its trace. No framework imports.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum


class CaseStatus(str, Enum):
    """R17 case statuses (the program's words)."""
    IN_PROGRESS = "In Progress"
    COMPLETED = "Completed"
    AUTHORIZED = "Authorized"
    NON_AUTHORIZED = "Non-Authorized"          # reviewer only: the engine never produces it
    MULTIPLE_DECISIONS = "Multiple Decisions Rendered"
    REVIEW_CANCELLED = "Review Cancelled"


class DrugStatus(str, Enum):
    """R17 drug statuses, plus IN_PROGRESS for a managed drug pended for review."""
    CLINICAL_REVIEW_NOT_REQUIRED = "Clinical Review Not Required"
    AUTHORIZED = "Authorized"
    IN_PROGRESS = "In Progress"
    NON_AUTHORIZED = "Non-authorized"          # reviewer only
    OTHER_IMPACT = "Other Impact"
    REFER_TO_HEALTH_PLAN = "Refer to Health Plan"
    VOLUNTARILY_CANCELLED = "Voluntarily Cancelled"
    NOT_REVIEWED = "Not Reviewed/Error Entry"


class DeviationKind(str, Enum):
    CUSTOM_TREATMENT_PLAN = "custom-treatment-plan"   # R5: no regimen match
    CYCLE_LENGTH = "cycle-length"
    CYCLE_COUNT = "cycle-count"
    ADMINISTRATION_DAYS = "administration-days"
    FREQUENCY = "frequency"
    DOSE = "dose"                                     # warning only
    MISSING_STAGE = "missing-stage"
    MISSING_HISTOLOGY = "missing-histology"
    MISSING_SETTING = "missing-setting"
    MISSING_LINE = "missing-line"
    MISSING_ECOG = "missing-ecog"
    MISSING_ATTESTATION = "missing-attestation"       # a label criterion the worksheet has not attested
    MISSING_BIOMARKER = "missing-biomarker"
    BIOMARKER_MISMATCH = "biomarker-mismatch"
    FN_RISK = "fn-risk"                               # R6


class Severity(str, Enum):
    PEND = "pend"        # sends the case to review
    WARNING = "warning"  # shown, does not pend


class Benefit(str, Enum):
    MEDICAL = "medical"
    PHARMACY = "pharmacy"


@dataclass(frozen=True)
class Reason:
    """A machine code plus words a clinician can act on."""
    code: str
    text: str
    rule: str | None = None          # "R3", "R5", ...


@dataclass(frozen=True)
class Deviation:
    kind: DeviationKind
    severity: Severity
    text: str
    drug_key: str | None = None
    rule: str = "R5"


@dataclass(frozen=True)
class DrugDecision:
    ref: str                           # the DrugLine.ref it answers
    drug_key: str | None               # None: the code could not be resolved
    display: str
    status: DrugStatus
    reasons: tuple[Reason, ...] = ()
    managed: bool = False
    benefit: Benefit | None = None
    hcpcs: str | None = None           # billing code awarded (first HCPCS of the drug)
    billing_units: float | None = None  # total units for the authorized period
    visits: int | None = None          # number of administrations for the authorized period
    contact: str | None = None         # who reviews it instead (PBM, health plan)
    authorized_from: date | None = None
    authorized_to: date | None = None


@dataclass(frozen=True)
class PathwayMatch:
    pathway_id: str
    pathway_name: str
    regimen_id: str
    regimen_name: str
    kb_version: str
    pathway_eligible_id: str | None    # None when matched but not eligible (e.g. pended)


@dataclass(frozen=True)
class Alternative:
    """An on-pathway regimen offered instead of an off-pathway request (R4)."""
    pathway_id: str
    regimen_id: str
    regimen_name: str
    drug_keys: tuple[str, ...]
    precision: bool = False            # biomarker-matched targeted option (R19): criteria met
    criteria_met: bool = True          # False: the patient may qualify once missing data is reported


@dataclass(frozen=True)
class SCode:
    """R15: enhanced-reimbursement code with its billing window."""
    code: str                          # S0353 | S0354
    valid_from: date
    valid_to: date
    max_units: int
    note: str = ""


@dataclass(frozen=True)
class TrialPointer:
    """R20: a precision-medicine trial arm for an actionable biomarker."""
    nct_id: str
    arm: str
    biomarker: str
    drug: str
    text: str


@dataclass(frozen=True)
class PrecisionBenefit:
    """R19: targeted therapy matched to a biomarker: no step therapy, first-line cost-sharing."""
    drug_key: str
    biomarker: str
    text: str


@dataclass(frozen=True)
class TraceStep:
    rule: str                          # "R1".."R20", or "resolve", "match"
    text: str


@dataclass(frozen=True)
class Decision:
    case_status: CaseStatus
    drugs: tuple[DrugDecision, ...]
    kb_version: str
    in_program: bool
    trace: tuple[TraceStep, ...]
    cancer_type: str | None = None
    pathway: PathwayMatch | None = None
    deviations: tuple[Deviation, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    s_codes: tuple[SCode, ...] = ()
    precision_benefits: tuple[PrecisionBenefit, ...] = ()
    trial_pointers: tuple[TrialPointer, ...] = ()
    pend_reasons: tuple[Reason, ...] = ()
    notices: tuple[Reason, ...] = ()   # e.g. duplicate order, out of network, retrospective
    due_by: datetime | None = None     # R10, set when pended
    program_reason: Reason | None = None  # why not in program (R12), when in_program is False
    duplicate_of: str | None = None    # R8: the Order ID on file it may duplicate

    @property
    def on_pathway(self) -> bool:
        return self.pathway is not None and self.pathway.pathway_eligible_id is not None

    @property
    def pended(self) -> bool:
        return self.case_status is CaseStatus.IN_PROGRESS

    def drug(self, ref: str) -> DrugDecision | None:
        return next((d for d in self.drugs if d.ref == ref), None)

    def rules_applied(self) -> list[str]:
        seen: list[str] = []
        for step in self.trace:
            if step.rule not in seen:
                seen.append(step.rule)
        return seen


# Statuses the engine may emit. NON_AUTHORIZED is absent on purpose: only a reviewer denies.
ENGINE_CASE_STATUSES = frozenset(s for s in CaseStatus if s is not CaseStatus.NON_AUTHORIZED)
ENGINE_DRUG_STATUSES = frozenset(s for s in DrugStatus if s is not DrugStatus.NON_AUTHORIZED)
