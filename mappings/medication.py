"""MedicationRequest -> DrugLine (one drug of the regimen, as ordered).

Reads: the drug codes (medicationCodeableConcept, or a contained / referenced Medication),
every dosageInstruction in sequence (timing -> the administration calendar, mappings/timing.py;
dose; route),
the start date, and the drug's role (category or treatment-intent extension).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from server.domain.order import Code, DrugLine, DrugRole, LineOfTherapy, Setting
from server.errors import BadRequest, Issue

from mappings.fhir import (
    ResourceIndex, as_date, canonical_system, codes_in, codings, concept_text, extensions, parse, table,
)
from mappings.therapy import line_of_therapy_from_extensions
from mappings.timing import read_timing


def raw_drug_codes(resource: dict) -> list[Code]:
    """The drug codes of a MedicationRequest read from raw JSON, without validating it: a cheap
    first look, so orders no program drug is on are never parsed (hot path). Inline concept or a
    contained Medication; system variants folded to their canonical URI like every mapping."""
    if not isinstance(resource, dict):
        return []
    concepts = [resource.get("medicationCodeableConcept")]
    ref = resource.get("medicationReference")
    ref = ref.get("reference") if isinstance(ref, dict) else None
    if isinstance(ref, str) and ref.startswith("#"):
        contained = resource.get("contained")
        concepts += [c.get("code") for c in (contained if isinstance(contained, list) else [])
                     if isinstance(c, dict) and c.get("id") == ref[1:]]
    out = []
    for concept in concepts:
        codings_ = concept.get("coding") if isinstance(concept, dict) else None
        for c in codings_ if isinstance(codings_, list) else []:
            if isinstance(c, dict) and isinstance(c.get("system"), str) and isinstance(c.get("code"), str):
                out.append(Code(canonical_system(c["system"]), c["code"], c.get("display")))
    return out


def raw_drug_labels(resource: dict) -> list[str]:
    """Every human label of the drug on a MedicationRequest (coding displays, concept text),
    read from raw JSON like `raw_drug_codes`."""
    labels = [c.display for c in raw_drug_codes(resource) if c.display]
    concept = resource.get("medicationCodeableConcept") if isinstance(resource, dict) else None
    if isinstance(concept, dict) and isinstance(concept.get("text"), str):
        labels.append(concept["text"])
    return labels


@dataclass(frozen=True)
class MedicationFacts:
    """What one MedicationRequest says beyond the drug line: hints for the whole order."""
    line: DrugLine
    setting: Setting = Setting.UNKNOWN
    line_of_therapy: LineOfTherapy = LineOfTherapy.UNKNOWN
    research_study: str | None = None     # reference to a ResearchStudy, if the order names one
    reason_references: tuple[str, ...] = ()
    reason_codes: tuple[Code, ...] = ()   # diagnosis codes named on the order itself
    requester: str | None = None
    performer: str | None = None
    authored_on: date | None = None
    priority: str | None = None
    prior_order_id: str | None = None     # R7: priorPrescription's identifier (an earlier Order ID)


def drug_line(resource: dict, path: str, index: ResourceIndex | None = None) -> MedicationFacts:
    """Map one MedicationRequest (JSON) to its DrugLine plus order-level hints."""
    mr = parse(resource, path, "MedicationRequest")
    med_table = table("medication")
    codes, display = _drug_codes(mr, path, index)

    dosage = (mr.dosageInstruction or [None])[0]
    raw_dosages = resource.get("dosageInstruction")
    timing = read_timing(raw_dosages if isinstance(raw_dosages, list) else [], _raw_dose, _validity_start(mr))
    text = " ".join(filter(None, [
        *[getattr(d, "text", None) for d in (mr.dosageInstruction or [])],
        getattr(dosage, "patientInstruction", None),
        *[n.text for n in (mr.note or []) if n.text]])).lower()
    # The calendar of an order without count or bounds is open-ended either way; "until
    # progression" is what the prescriber states, in the text.
    until_progression = (timing.open_ended or not timing.segments) \
        and any(t in text for t in med_table["until_progression_texts"])

    dose, dose_unit = _dose(dosage)
    start = timing.start or _validity_start(mr)
    end = timing.end
    if end is None and mr.dispenseRequest and mr.dispenseRequest.validityPeriod:
        end = as_date(mr.dispenseRequest.validityPeriod.end)

    intent = _intent(mr)
    role = _role(mr, intent)
    setting = Setting(intent) if intent in {s.value for s in Setting} else Setting.UNKNOWN

    line = DrugLine(
        ref=f"MedicationRequest/{mr.id}" if mr.id else path,
        codes=codes,
        display=display,
        role=role,
        route=_route(dosage),
        dose=dose,
        dose_unit=dose_unit,
        cycle_length_days=timing.cycle_length_days,
        administration_days=timing.administration_days,
        cycles=None if timing.open_ended else timing.cycles,
        until_progression=until_progression,
        frequency_per_day=timing.frequency_per_day,
        quantity=_quantity(mr),
        quantity_unit=_quantity_unit(mr),
        start=start,
        end=end,
        segments=timing.segments,
    )
    return MedicationFacts(
        line=line,
        setting=setting,
        line_of_therapy=line_of_therapy_from_extensions(mr),
        research_study=_research_study(mr),
        reason_references=tuple(r.reference for r in (mr.reasonReference or []) if r.reference),
        reason_codes=tuple(c for rc in (mr.reasonCode or [])
                           for c in codes_in(rc, table("systems")["diagnosis_code_systems"])),
        requester=mr.requester.reference if mr.requester else None,
        performer=mr.performer.reference if mr.performer else None,
        authored_on=as_date(mr.authoredOn),
        priority=mr.priority,
        prior_order_id=_prior_order_id(mr),
    )


def _prior_order_id(mr) -> str | None:
    prior = mr.priorPrescription
    if prior is None:
        return None
    if prior.identifier is not None and prior.identifier.value:
        return prior.identifier.value
    return prior.reference


# --- drug codes ------------------------------------------------------------------------------

def _drug_codes(mr, path: str, index: ResourceIndex | None) -> tuple[tuple[Code, ...], str | None]:
    line_systems = table("systems")["line_code_systems"]
    if mr.medicationCodeableConcept is not None:
        concept = mr.medicationCodeableConcept
        return codes_in(concept, line_systems), concept_text(concept) or None
    ref = mr.medicationReference.reference if mr.medicationReference else None
    medication = None
    if ref and ref.startswith("#"):
        for i, contained in enumerate(getattr(mr, "contained", None) or []):
            if getattr(contained, "id", None) == ref[1:] and contained.get_resource_type() == "Medication":
                medication = contained
                break
    elif ref and index is not None:
        raw, mpath = index.resolve(ref)
        if raw is not None:
            medication = parse(raw, mpath, "Medication")
    if medication is None:
        raise BadRequest(Issue(
            "required", f"{path}: the ordered medication cannot be read (no medicationCodeableConcept "
            f"and the Medication {ref or '(none)'} is not included)",
            expression=[f"{path}.medication"]))
    concept = medication.code
    codes = codes_in(concept, line_systems)
    # A compounded product: its ingredients' codes identify the drugs.
    for ing in medication.ingredient or []:
        codes += codes_in(getattr(ing, "itemCodeableConcept", None), line_systems)
    return codes, concept_text(concept) or None


# --- timing (read in mappings/timing.py) ---------------------------------------------------

def _validity_start(mr) -> date | None:
    if mr.dispenseRequest and mr.dispenseRequest.validityPeriod and mr.dispenseRequest.validityPeriod.start:
        return as_date(mr.dispenseRequest.validityPeriod.start)
    return None


# --- dose, route, quantity -------------------------------------------------------------------

def _dose(dosage) -> tuple[float | None, str | None]:
    for dr in (getattr(dosage, "doseAndRate", None) or []):
        q = dr.doseQuantity
        if q is None and dr.doseRange is not None:
            q = dr.doseRange.high or dr.doseRange.low
        if q is None:
            q = dr.rateQuantity   # mCODE examples carry mg/m2 in rateQuantity
        if q is not None and q.value is not None:
            return float(q.value), _unit(q)
    return None, None


def _raw_dose(dosage: dict) -> tuple[float | None, str | None]:
    """`_dose` on the raw JSON of a validated dosage instruction (the calendar reader's)."""
    units = table("medication")["dose_units"]
    for dr in dosage.get("doseAndRate") or []:
        if not isinstance(dr, dict):
            continue
        q = dr.get("doseQuantity")
        if q is None and isinstance(dr.get("doseRange"), dict):
            q = dr["doseRange"].get("high") or dr["doseRange"].get("low")
        if q is None:
            q = dr.get("rateQuantity")
        if isinstance(q, dict) and isinstance(q.get("value"), (int, float)) and not isinstance(q.get("value"), bool):
            for candidate in (q.get("code"), q.get("unit")):
                if candidate and candidate in units:
                    return float(q["value"]), units[candidate]
            return float(q["value"]), q.get("unit") or q.get("code")
    return None, None


def _unit(quantity) -> str | None:
    units = table("medication")["dose_units"]
    for candidate in (quantity.code, quantity.unit):
        if candidate and candidate in units:
            return units[candidate]
    return quantity.unit or quantity.code


def _route(dosage) -> str | None:
    route = getattr(dosage, "route", None)
    if route is None:
        return None
    routes = table("medication")["routes"]
    for c in codings(route):
        if c.code in routes:
            return routes[c.code]
    return concept_text(route) or None


def _quantity(mr) -> float | None:
    q = mr.dispenseRequest.quantity if mr.dispenseRequest else None
    return float(q.value) if q is not None and q.value is not None else None


def _quantity_unit(mr) -> str | None:
    q = mr.dispenseRequest.quantity if mr.dispenseRequest else None
    return (q.code or q.unit) if q is not None and q.value is not None else None


# --- role, intent, line of therapy -----------------------------------------------------------

def _intent(mr) -> str | None:
    """The treatment intent named by mcode-procedure-intent / regimenIntent, as a table value."""
    clinical = table("clinical")
    for ext in extensions(mr, clinical["intent_extensions"]):
        for c in codings(ext.valueCodeableConcept):
            if c.code in clinical["intents"]:
                return clinical["intents"][c.code]
    return None


def _role(mr, intent: str | None) -> DrugRole:
    med = table("medication")
    systems = set(med["role_category_systems"])
    for cat in mr.category or []:
        for c in codings(cat):
            if c.system in systems and c.code in med["roles"]:
                return DrugRole(med["roles"][c.code])
    if intent == "supportive":
        return DrugRole.SUPPORTIVE
    return DrugRole.UNKNOWN


def _research_study(mr) -> str | None:
    for ext in extensions(mr, table("medication")["research_study_extensions"]):
        if ext.valueReference is not None:
            ref = ext.valueReference
            if ref.identifier is not None and ref.identifier.value:
                return ref.identifier.value
            return ref.reference or ref.display
    return None


def nct_in(text: str | None) -> str | None:
    """A ClinicalTrials.gov identifier (NCT + 8 digits) within a text, if any."""
    m = re.search(table("pas")["nct_pattern"], text or "")
    return m.group(0) if m else None

