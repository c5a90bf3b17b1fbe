"""Hook services as data: one registry drives discovery (`GET /cds-services`) and routing.

Prefetch templates use only CDS Hooks 2.0 tokens: `{{context.X}}` for root-level primitive
context fields of the hook, and the user tokens. A test checks every template against
HOOK_CONTEXT_FIELDS, so a typo here fails the build rather than a clinician's prefetch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

CRD_VERSIONS = ("2.2",)

# Context fields per hook [order-sign v1.0, order-select v1.0]: (name, required, token-capable).
HOOK_CONTEXT_FIELDS: dict[str, tuple[tuple[str, bool, bool], ...]] = {
    "order-sign": (("userId", True, True), ("patientId", True, True), ("encounterId", False, True),
                   ("draftOrders", True, False)),
    "order-select": (("userId", True, True), ("patientId", True, True), ("encounterId", False, True),
                     ("selections", True, False), ("draftOrders", True, False)),
}
USER_TOKENS = ("userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId")
TOKEN = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")

# Prefetch keys the mapping reads. `patient` is the one piece of required data (412 without it).
_LOINC = "http://loinc.org"
_SNOMED = "http://snomed.info/sct"
_CODEX = "http://hl7.org/fhir/us/codex-ocpa/CodeSystem/ocpa-codes"
_ASSESSMENT_CODES = (
    (_LOINC, "89247-1"),       # ECOG performance status
    (_LOINC, "21908-9"),       # stage group, clinical
    (_LOINC, "21902-2"),       # stage group, pathologic
    (_LOINC, "21914-7"),       # stage group, other
    (_SNOMED, "399537006"),    # clinical TNM stage grouping (mCODE STU3+)
    (_SNOMED, "399588009"),    # pathologic TNM stage grouping
    (_SNOMED, "399390009"),    # TNM stage grouping
    (_CODEX, "line-of-therapy"),
    (_LOINC, "97509-4"),       # cancer disease status (mCODE): documented progression dates
    (_SNOMED, "161712005"),    # menopause function: "postmenopausal women" (Faslodex)
)
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "coverage": "Coverage?patient={{context.patientId}}&status=active",
    # Not clinical-status=active: a cancer in remission is still the diagnosis being treated.
    "conditions": "Condition?patient={{context.patientId}}&category=problem-list-item,encounter-diagnosis",
    "labs": "Observation?patient={{context.patientId}}&category=laboratory",
    "assessments": "Observation?patient={{context.patientId}}&code="
                   + ",".join(f"{system}|{code}" for system, code in _ASSESSMENT_CODES),
    # completed and stopped too: the cancer treatment already given is what "after platinum",
    # "after a PD-1 inhibitor" and the platinum-free interval are read from
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active,completed,stopped",
    "administrations": "MedicationAdministration?patient={{context.patientId}}&status=completed,stopped",
    # the program's worksheet answered in the EHR (DTR): its answers are read with the record
    "worksheets": "QuestionnaireResponse?patient={{context.patientId}}&status=completed,amended",
    "practitioner": "Practitioner/{{userPractitionerId}}",
}
REQUIRED_PREFETCH = frozenset({"patient"})
# Read when the EHR prefetches them, never fetched by us: the worksheet answered in the EHR speeds a
# decision up, and an EHR that has none should not pay a FHIR search on every signing for it
# (the card's worksheet link asks instead).
PREFETCH_ONLY = frozenset({"worksheets"})


@dataclass(frozen=True)
class ConfigOption:
    """One `davinci-crd.configuration-options` entry: a card type the client may switch off."""
    code: str
    name: str
    description: str
    type: str = "boolean"
    default: bool | int = True

    def as_json(self) -> dict:
        return {"code": self.code, "type": self.type, "name": self.name,
                "description": self.description, "default": self.default}


# One boolean per card type we emit (CRD dev-5), plus max-cards. The codes are the card topics.
CARD_OPTIONS: tuple[ConfigOption, ...] = (
    ConfigOption("coverage-info", "Coverage Information",
                 "Whether each drug of the regimen is authorized now (pa-needed satisfied, with the "
                 "Order ID), needs prior authorization, or is pended for review, and what is missing; "
                 "returned as coverage-information systemActions and a card naming what is missing"),
    ConfigOption("guideline", "Pathway alignment",
                 "Confirms that the regimen is on the treatment pathway for the patient's cancer"),
    ConfigOption("off-guideline", "Off-pathway regimen",
                 "Warns that the regimen is not on a treatment pathway, with the on-pathway "
                 "regimens as suggestions"),
    ConfigOption("appropriate-use", "Growth-factor appropriate use",
                 "Febrile-neutropenia risk check for growth factors (G-CSF) ordered with the regimen"),
    ConfigOption("duplicate-therapy", "Duplicate order",
                 "A similar regimen request is already on file for this patient"),
    ConfigOption("insurance", "Program eligibility",
                 "The member or diagnosis is outside the oncology program: who reviews it instead"),
    ConfigOption("network", "Network status",
                 "The ordering or servicing provider is out of network"),
    ConfigOption("max-cards", "Maximum cards",
                 "The maximum number of cards returned; the most important are kept", "integer", 10),
)
CARD_TYPES = frozenset(o.code for o in CARD_OPTIONS if o.type == "boolean")


@dataclass(frozen=True)
class HookService:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str] = field(default_factory=lambda: dict(PREFETCH))
    options: tuple[ConfigOption, ...] = CARD_OPTIONS
    usage_requirements: str | None = None

    def discovery(self) -> dict:
        out = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
            "extension": {
                "davinci-crd.version": list(CRD_VERSIONS),
                "davinci-crd.configuration-options": [o.as_json() for o in self.options],
            },
        }
        if self.usage_requirements:
            out["usageRequirements"] = self.usage_requirements
        return out


_USAGE = ("Send draft MedicationRequests coded with RxNorm (or HCPCS/NDC). Prefetch (or a "
          "fhirServer + fhirAuthorization able to read) the Patient, active Coverage, the cancer "
          "Condition and tumor-marker, stage and ECOG Observations.")

SERVICES: dict[str, HookService] = {s.id: s for s in (
    HookService(
        id="oncopath-order-sign",
        hook="order-sign",
        title="Oncology regimen prior authorization and pathway review",
        description="Reviews a chemotherapy/immunotherapy regimen as a whole when it is signed: "
                    "authorizes it at once when medical policy is met (pa-needed satisfied with the "
                    "Order ID), says whether it is on the treatment pathway, offers on-pathway "
                    "alternatives, and pends what automation cannot approve, naming what is missing.",
        usage_requirements=_USAGE,
    ),
    HookService(
        id="oncopath-order-select",
        hook="order-select",
        title="Oncology regimen pathway advice",
        description="Advises on the selected drug orders while a regimen is being built: pathway "
                    "alignment, on-pathway alternatives and the information prior authorization "
                    "will need. Nothing is recorded; authorization happens at order-sign.",
        usage_requirements=_USAGE,
    ),
)}


def get(service_id: str) -> HookService | None:
    return SERVICES.get(service_id)


def discovery() -> dict:
    return {"services": [s.discovery() for s in SERVICES.values()]}


def template_tokens(template: str) -> list[str]:
    return TOKEN.findall(template)


def invalid_tokens(hook: str, template: str) -> list[str]:
    """Tokens a CDS Hooks 2.0 client cannot fill for this hook (non-root or non-primitive fields)."""
    allowed = {f"context.{name}" for name, _, token in HOOK_CONTEXT_FIELDS[hook] if token}
    allowed.update(USER_TOKENS)
    return [t for t in template_tokens(template) if t not in allowed]
