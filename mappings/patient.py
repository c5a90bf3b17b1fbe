"""Patient -> the member's birth date and identifiers (member id comes from Coverage first)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mappings.fhir import as_date, codings, parse


@dataclass(frozen=True)
class PatientFacts:
    ref: str
    birth_date: date | None
    member_id: str | None     # identifier typed MB (member number); an MRN is not a member id


def patient_facts(resource: dict, path: str) -> PatientFacts:
    pat = parse(resource, path, "Patient")
    member_id = None
    for ident in pat.identifier or []:
        if any(c.code == "MB" for c in codings(ident.type)) and ident.value:
            member_id = ident.value
            break
    return PatientFacts(
        ref=f"Patient/{pat.id}" if pat.id else path,
        birth_date=as_date(pat.birthDate),
        member_id=member_id,
    )
