"""The patient's treatment history as labels count it: when each completed cancer treatment was
last given, and when progression was documented (read from raw JSON, like the other record
readers, so resources no criterion needs are never validated).

Both doors read the record through `mappings.order.read_record`, so a platinum-free interval is
measured from the same dates whether the request came as a CDS Hooks call or a PAS Claim.
"""
from __future__ import annotations

from datetime import date

from server.domain.order import Code, PriorCourse

from mappings.fhir import arr, as_date, obj, raw_profiles, table


def last_given(raw: dict) -> date | None:
    """The last date a completed or stopped treatment record states: an administration's
    effective date (or the end of its period); for a request, its latest timing event or the end
    of its bounds, else the day it was written (an earlier date than the last dose, so an
    interval counted from it is never shorter than the real one)."""
    if raw.get("resourceType") == "MedicationAdministration":
        period = obj(raw.get("effectivePeriod"))
        return as_date(raw.get("effectiveDateTime")) or as_date(period.get("end")) or as_date(period.get("start"))
    days: list[date] = []
    for dosage in arr(raw.get("dosageInstruction")):
        timing = obj(obj(dosage).get("timing"))
        days += [d for d in (as_date(e) for e in arr(timing.get("event"))) if d]
        bounds = obj(obj(timing.get("repeat")).get("boundsPeriod"))
        days += [d for d in (as_date(bounds.get("end")), as_date(bounds.get("start"))) if d]
    return max(days) if days else as_date(raw.get("authoredOn"))


def prior_course(raw: dict, codes: list[Code]) -> PriorCourse:
    return PriorCourse(codes=tuple(codes), last=last_given(raw))


def disease_status(raw: dict) -> tuple[str, date] | None:
    """An mCODE CancerDiseaseStatus observation valued "condition worsened" ("worsened") or full /
    partial remission ("remission"), with its date; None for any other observation, one entered in
    error, or another value ("improved" does not say complete or partial)."""
    cfg = table("clinical")["disease_status"]
    if raw.get("status") in ("entered-in-error", "cancelled", "preliminary"):
        return None
    coded = any(obj(c).get("code") in cfg["codes"] and obj(c).get("system") in cfg["code_systems"]
                for c in arr(obj(raw.get("code")).get("coding")))
    if not coded and not raw_profiles(raw) & set(cfg["profiles"]):
        return None
    values = {obj(c).get("code") for c in arr(obj(raw.get("valueCodeableConcept")).get("coding"))
              if obj(c).get("system") in cfg["value_systems"]}
    kind = "worsened" if values & set(cfg["worsened"]) else "remission" if values & set(cfg["remission"]) else None
    if kind is None:
        return None
    period = obj(raw.get("effectivePeriod"))
    day = as_date(raw.get("effectiveDateTime")) or as_date(period.get("start")) or as_date(raw.get("issued"))
    return (kind, day) if day else None


def history_fields(courses: list[PriorCourse], progressions: list[date], responses: list[date]) -> dict:
    """prior_courses, progressions and responses for the Order (both doors)."""
    return {"prior_courses": tuple(courses), "progressions": tuple(sorted(set(progressions))),
            "responses": tuple(sorted(set(responses)))}
