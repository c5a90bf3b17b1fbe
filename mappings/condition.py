"""Condition -> diagnosis facts: cancer codes, histology, stage, metastatic sites, FN risk factors.

A Condition is a primary cancer (mCODE PrimaryCancerCondition, or an ICD-10-CM C code outside
C77–C79, or a SNOMED cancer disorder in the table), a secondary cancer (mCODE
SecondaryCancerCondition, ICD-10-CM C77–C79), or another condition, which may be a
febrile-neutropenia patient risk factor (clinical.yaml).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from server.domain.order import Code

from mappings.fhir import (
    codes_in, codings, extensions, parse, profiles, system, table,
)
from mappings.observation import stage_from_concept


class ConditionKind(str, Enum):
    PRIMARY_CANCER = "primary-cancer"
    SECONDARY_CANCER = "secondary-cancer"
    OTHER = "other"


@dataclass(frozen=True)
class ConditionFacts:
    ref: str
    kind: ConditionKind
    codes: tuple[Code, ...]                 # ICD-10-CM and SNOMED, as sent
    histology: tuple[Code, ...] = ()
    stage_summary: str | None = None        # from Condition.stage.summary
    stage_assessments: tuple[str, ...] = () # references to stage Observations
    fn_risk_factors: frozenset[str] = frozenset()
    active: bool = True


def condition_facts(resource: dict, path: str) -> ConditionFacts:
    cond = parse(resource, path, "Condition")
    clinical = table("clinical")
    dx_codes = codes_in(cond.code, table("systems")["diagnosis_code_systems"])
    kind = _kind(cond, dx_codes)
    histology = ()
    for ext in extensions(cond, clinical["profiles"]["histology_extension"]):
        histology += codes_in(ext.valueCodeableConcept)
    stage_summary, assessments = None, []
    for st in cond.stage or []:
        if stage_summary is None and st.summary is not None:
            reading = stage_from_concept(st.summary)
            stage_summary = reading
        assessments += [a.reference for a in (st.assessment or []) if a.reference]
    risk = frozenset() if kind is not ConditionKind.OTHER else _fn_risk_factors(dx_codes)
    status = {c.code for c in codings(cond.clinicalStatus)}
    verification = {c.code for c in codings(cond.verificationStatus)}
    active = not (status & {"inactive", "resolved"}) and not (verification & {"refuted", "entered-in-error"})
    return ConditionFacts(
        ref=f"Condition/{cond.id}" if cond.id else path,
        kind=kind,
        codes=dx_codes,
        histology=histology,
        stage_summary=stage_summary,
        stage_assessments=tuple(assessments),
        fn_risk_factors=risk,
        active=active,
    )


def diagnosis_kind(code: Code) -> ConditionKind:
    """Classify one diagnosis code (also used for PAS Claim.diagnosis)."""
    clinical = table("clinical")
    if code.system == system("icd10cm"):
        c = code.code.upper()
        if any(c.startswith(p) for p in clinical["icd10_secondary_prefixes"]):
            return ConditionKind.SECONDARY_CANCER
        if any(c.startswith(p) for p in clinical["icd10_cancer_prefixes"]):
            return ConditionKind.PRIMARY_CANCER
    elif code.system == system("snomed"):
        for entry in clinical["snomed_cancer"]:
            if entry["code"] == code.code:
                return (ConditionKind.SECONDARY_CANCER if entry.get("secondary")
                        else ConditionKind.PRIMARY_CANCER)
    return ConditionKind.OTHER


def _kind(cond, dx_codes: tuple[Code, ...]) -> ConditionKind:
    profs = table("clinical")["profiles"]
    declared = profiles(cond)
    if profs["secondary_cancer"] in declared:
        return ConditionKind.SECONDARY_CANCER
    if profs["primary_cancer"] in declared:
        return ConditionKind.PRIMARY_CANCER
    kinds = {diagnosis_kind(c) for c in dx_codes}
    if ConditionKind.SECONDARY_CANCER in kinds:
        return ConditionKind.SECONDARY_CANCER
    if ConditionKind.PRIMARY_CANCER in kinds:
        return ConditionKind.PRIMARY_CANCER
    return ConditionKind.OTHER


def risk_factors_for(code: Code) -> frozenset[str]:
    return _fn_risk_factors((code,))


def _fn_risk_factors(dx_codes) -> frozenset[str]:
    fn = table("clinical")["fn_risk_factors"]
    found = set()
    for code in dx_codes:
        if code.system == system("icd10cm"):
            c = code.code.upper()
            for prefix, key in fn["icd10cm_prefixes"].items():
                if c.startswith(prefix):
                    found.add(key)
        elif code.system == system("snomed") and code.code in fn["snomed"]:
            found.add(fn["snomed"][code.code])
    return frozenset(found)
