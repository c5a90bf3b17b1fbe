"""Systems and codes the cards and the coverage-information extension use."""
from __future__ import annotations

CARD_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
COVERAGE_INFORMATION_URL = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
# Reason codes of CRD's coverageAssertionReasons value set (CRD 2.2 keeps them in CodeSystem/temp).
CRD_TEMP_SYSTEM = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
CRD_REASON_CODES = frozenset({"gold-card", "no-member-found", "no-active-coverage", "auth-out-network"})
# Our own codes (reasons outside CRD's value set always carry text: invariant crd-ci-q7).
ONCOPATH_REASON_SYSTEM = "urn:oncopath:coverage-reason"
ONCOPATH_DETAIL_SYSTEM = "urn:oncopath:coverage-detail"
ONCOPATH_OVERRIDE_SYSTEM = "urn:oncopath:override-reason"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

TOPIC_DISPLAY = {
    "coverage-info": "Coverage Information",
    "guideline": "Guideline",
    "off-guideline": "Off-Guideline",
    "therapy-alternatives-opt": "Optional Therapy Alternatives",
    "appropriate-use": "Appropriate Use",
    "duplicate-therapy": "Duplicate Therapy",
    "insurance": "Insurance",
    "network": "Network",
}

OVERRIDE_REASONS = (
    ("clinical-judgment", "Regimen chosen on clinical judgment; will document for review"),
    ("contraindicated", "Pathway regimen contraindicated for this patient"),
    ("patient-preference", "Patient declined the pathway regimen"),
    ("clinical-trial", "Patient is on a clinical trial"),
)
