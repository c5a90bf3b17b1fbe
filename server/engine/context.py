"""The working state of one review: built inside `decide`, never shared between calls.

Each step module reads the order and knowledge from here and records what it found
(statuses, deviations, notices, pend reasons) plus a trace line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date

from server.domain.decision import (
    Alternative,
    Deviation,
    DeviationKind,
    DrugStatus,
    PathwayMatch,
    Reason,
    Severity,
)
from server.domain.order import DrugLine, DrugRole, History, Order
from server.knowledge.model import HCPCS, RXNORM, CancerType, Drug, Knowledge, Pathway, Regimen

from .trace import Trace

# Statuses that take a drug out of the program's own review for good.
ORAL_FORM = re.compile(r"\boral\b", re.IGNORECASE)

SETTLED = frozenset({
    DrugStatus.REFER_TO_HEALTH_PLAN,
    DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED,
    DrugStatus.OTHER_IMPACT,
})


@dataclass
class DrugWork:
    """One drug line on its way to a DrugDecision."""
    line: DrugLine
    drug: Drug | None
    role: DrugRole
    status: DrugStatus | None = None
    reasons: list[Reason] = field(default_factory=list)
    contact: str | None = None

    @property
    def key(self) -> str | None:
        return self.drug.key if self.drug else None

    @property
    def display(self) -> str:
        if self.line.display:
            return self.line.display
        if self.drug:
            return self.drug.name
        return self.line.codes[0].code if self.line.codes else self.line.ref

    @property
    def investigational(self) -> bool:
        return self.role is DrugRole.INVESTIGATIONAL

    @cached_property   # asked ~40 times per decision; the line and drug never change
    def oral(self) -> bool:
        """Ordered as an oral form: route PO, an RxNorm product with an oral dose form
        ("... 50 MG Oral Tablet"), or an oral HCPCS code (J8530). Oral is the pharmacy benefit."""
        if (self.line.route or "").strip().upper() in ("PO", "ORAL"):
            return True
        if any(c.system == RXNORM and c.display and ORAL_FORM.search(c.display) for c in self.line.codes):
            return True
        oral_hcpcs = {h.code for h in self.drug.hcpcs if ORAL_FORM.search(h.description)} if self.drug else set()
        return any(c.system == HCPCS and c.code in oral_hcpcs for c in self.line.codes)

    @property
    def supportive(self) -> bool:
        return self.role is DrugRole.SUPPORTIVE

    @property
    def managed(self) -> bool:
        """Medical-benefit drug the program reviews itself (R2), trial drugs excluded (R14)."""
        return self.drug is not None and self.drug.managed and not self.investigational and not self.oral

    @property
    def open(self) -> bool:
        """Still to be decided by this program (not referred elsewhere)."""
        return self.status not in SETTLED

    def settle(self, status: DrugStatus, reason: Reason, contact: str | None = None) -> None:
        self.status = status
        self.reasons.append(reason)
        if contact:
            self.contact = contact


@dataclass
class Candidate:
    """A regimen whose drug set matches, with its pathway criteria evaluated (R4)."""
    pathway: Pathway
    regimen: Regimen
    checks: list  # list[criteria.Check]

    @property
    def unknown(self) -> list:
        return [c for c in self.checks if c.status is None]

    @property
    def failed(self) -> list:
        return [c for c in self.checks if c.status is False]

    @property
    def unanswered(self) -> list:
        """The regimen's own worksheet questions not yet answered (attestations)."""
        return [c for c in self.unknown if c.missing_kind is DeviationKind.MISSING_ATTESTATION]

    @property
    def rank(self) -> tuple[int, int]:
        """All met first, then unknown-but-not-failed, then failed; fewer problems first. An
        unanswered attestation does not lower the tier: it is a question for the clinician, so the
        schedule decides between it and a regimen without one (four cycles of CAPOX are asked
        IDEA's low-risk question, not told they are 4 of 8 cycles); `unanswered` breaks ties."""
        if self.failed:
            return (2, len(self.failed))
        unknown = [c for c in self.unknown if c not in self.unanswered]
        if unknown:
            return (1, len(unknown))
        return (0, 0)


@dataclass
class Case:
    order: Order
    kb: Knowledge
    history: History
    trace: Trace
    date_of_service: date
    drugs: list[DrugWork] = field(default_factory=list)
    cancer: CancerType | None = None
    deviations: list[Deviation] = field(default_factory=list)
    notices: list[Reason] = field(default_factory=list)
    case_pends: list[Reason] = field(default_factory=list)   # pend the whole case
    supportive_only: bool = False
    candidate: Candidate | None = None                        # best regimen match
    custom_plan: bool = False
    pathway: PathwayMatch | None = None
    alternatives: list[Alternative] = field(default_factory=list)
    duplicate_of: str | None = None
    schedule_fits: dict = field(default_factory=dict, repr=False)   # regimen id -> calendars.Fit

    # --- helpers shared by the step modules ---------------------------------------------
    @property
    def regimen(self) -> Regimen | None:
        return self.candidate.regimen if self.candidate else None

    def reviewed(self) -> list[DrugWork]:
        """Resolved drugs that are not trial drugs: the regimen under review (R1, R14)."""
        return [w for w in self.drugs if w.drug is not None and not w.investigational]

    def managed_open(self) -> list[DrugWork]:
        return [w for w in self.drugs if w.managed and w.open]

    def deviate(self, deviation: Deviation) -> None:
        self.deviations.append(deviation)
        self.trace.add(deviation.rule, f"deviation {deviation.kind.value} ({deviation.severity.value}): "
                                       f"{deviation.text}")
        if deviation.severity is Severity.PEND:
            self.pend(Reason(deviation.kind.value, deviation.text, deviation.rule))

    def pend(self, reason: Reason) -> None:
        if reason not in self.case_pends:
            self.case_pends.append(reason)

    def notice(self, reason: Reason) -> None:
        if reason not in self.notices:
            self.notices.append(reason)
