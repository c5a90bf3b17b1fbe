"""Body weight, height and body surface area from the record's Observations.

Doses per kg and per m² become absolute doses (billing units, dose comparison) with the
patient's own measurements: the most recent of each. LOINC codes, as the mCODE 4.0.0 examples
use them (Observation-bodyweight-jenny-m: 29463-7 Body weight; Observation-bodyheight-jenny-m:
8302-2 Body height; Observation-body-surface-area-example: 8277-6 Body surface area), are in
tables/medication.yaml. A BSA the record does not report is computed from height and weight
with the Mosteller formula, BSA (m²) = sqrt(height (cm) x weight (kg) / 3600)
(Mosteller RD, N Engl J Med 1987;317:1098).

Read from raw JSON, like `observation.is_relevant`: a vital sign is never validated or parsed
beyond its code, value and date (hot path).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from mappings.fhir import arr, obj, table


@dataclass(frozen=True)
class BodyMeasure:
    kind: str          # weight | height | bsa
    value: float       # kg | cm | m2
    when: str          # effective date/time as sent (ISO 8601 sorts as text)


def body_measure(resource: dict) -> BodyMeasure | None:
    """The measurement an Observation carries, in kg / cm / m², or None if it is not one."""
    cfg = table("medication")["body_measurements"]
    if resource.get("status") in ("entered-in-error", "cancelled"):
        return None
    kind = None
    for c in arr(obj(resource.get("code")).get("coding")):
        c = obj(c)
        hit = cfg["codes"].get(c.get("code")) if c.get("system") == cfg["system"] else None
        if hit:
            kind = hit
            break
    if kind is None:
        return None
    q = obj(resource.get("valueQuantity"))
    value = q.get("value")
    unit = q.get("code") or q.get("unit")
    factor = cfg["units"][kind].get(unit) if isinstance(unit, str) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or factor is None or value <= 0:
        return None
    when = resource.get("effectiveDateTime") or obj(resource.get("effectivePeriod")).get("start") or ""
    return BodyMeasure(kind, float(value) * float(factor), when if isinstance(when, str) else "")


def body_fields(measures: list[BodyMeasure]) -> dict:
    """weight_kg, height_cm, bsa_m2 for the Order: latest of each; BSA computed when absent."""
    latest: dict[str, BodyMeasure] = {}
    for m in measures:
        if m.kind not in latest or m.when >= latest[m.kind].when:
            latest[m.kind] = m
    weight = latest["weight"].value if "weight" in latest else None
    height = latest["height"].value if "height" in latest else None
    bsa = latest["bsa"].value if "bsa" in latest else None
    if bsa is None and weight and height:
        bsa = round(math.sqrt(height * weight / 3600.0), 2)
    return {"weight_kg": weight, "height_cm": height, "bsa_m2": bsa}
