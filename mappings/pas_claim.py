"""Da Vinci PAS request Bundle (Claim first) -> Order.

Each Claim.item becomes a DrugLine (`ref` = "item/<sequence>") carrying the item's
productOrService codes (HCPCS, NDC, RxNorm, CPT or whatever was sent: a service that is not a
drug still becomes a line, so the engine can say it is not managed by this program), quantity,
serviced date/period, and — when the item's `requestedService` points to a MedicationRequest in
the Bundle — that order's dosing and schedule. Diagnoses, supportingInfo, insurer/coverage,
provider/careTeam, level of service and related claims fill the rest.
"""
from __future__ import annotations

import re
from datetime import datetime

from server.domain.order import (
    Code, DrugLine, DrugRole, Order, Provider, ProviderKind, Setting, Urgency,
)
from server.errors import BadRequest, Issue

from mappings.condition import ConditionKind, diagnosis_kind, risk_factors_for
from mappings.fhir import (
    ResourceIndex, arr, as_date, codings, concept_text, extensions, identifier_value, obj, parse,
    system, table, to_code,
)
from mappings.medication import MedicationFacts, drug_line
from mappings.order import (
    bundle_entries, diagnosis, focal_coverage, full_urls, member, patient_fields, read_record,
    unknown_provider,
)
from mappings.patient import patient_facts
from mappings.provider import provider_from_reference


def order_from_pas_bundle(bundle: dict, *, received_at: datetime, claim_model=None) -> Order:
    """`claim_model`: optional, the first entry's Claim already checked as an R4B Claim
    (mappings/pas_checks does that on `$submit`): used instead of validating it again."""
    entries = bundle_entries(bundle)
    if bundle.get("type") != "collection":
        raise BadRequest(Issue("structure", "A PAS request Bundle must be of type 'collection'",
                               expression=["Bundle.type"]))
    if not entries or entries[0][0].get("resourceType") != "Claim":
        raise BadRequest(Issue("structure", "The first entry of a PAS request Bundle must be the Claim",
                               expression=["Bundle.entry[0].resource"]))
    raw_claim, claim_path = entries[0]
    claim = claim_model if claim_model is not None else parse(raw_claim, claim_path, "Claim")
    pas = table("pas")

    index = ResourceIndex()
    urls = full_urls(bundle)
    for raw, path in entries:
        index.add(raw, path, urls.get(id(raw)))

    # The patient's record: everything in the Bundle except Claims (supportingInfo points here).
    # A PAS Bundle is about one beneficiary; it may also carry the subscriber's Patient, so the
    # member's Patient is the one Claim.patient points to.
    record = read_record([(r, p) for r, p in entries if r.get("resourceType") != "Claim"], index)
    raw_patient, patient_path = index.resolve(claim.patient.reference if claim.patient else None)
    if raw_patient is not None and raw_patient.get("resourceType") == "Patient":
        record.patient = patient_facts(raw_patient, patient_path)

    meds: dict[int, MedicationFacts] = {}
    lines = []
    for i, item in enumerate(claim.item or []):
        if _cancelled(item):
            continue   # certificationType 3 / infoCancelled: nothing to review for this item
        med = _requested_medication(item, index, f"{claim_path}.item[{i}]")
        if med is not None:
            meds[item.sequence] = med
        lines.append(_item_line(item, med))

    # Diagnoses, in Claim.diagnosis.sequence order; referenced Conditions join the record.
    dx_codes: list[Code] = []          # primary cancer codes, then the other diagnoses
    risk: set[str] = set()
    secondary_codes: list[Code] = []
    for d in sorted(claim.diagnosis or [], key=lambda d: d.sequence or 0):
        for code in (to_code(c) for c in codings(d.diagnosisCodeableConcept)):
            if code is None:
                continue
            kind = diagnosis_kind(code)
            if kind is ConditionKind.SECONDARY_CANCER:
                secondary_codes.append(code)
            else:
                dx_codes.append(code)
                if kind is ConditionKind.OTHER:
                    risk |= risk_factors_for(code)

    nct = next(iter(record.nct_ids), None)
    for info in claim.supportingInfo or []:
        for text in (info.valueString, concept_text(info.code)):
            found = re.search(pas["nct_pattern"], text or "")
            if nct is None and found:
                nct = found.group(0)

    med_facts = list(meds.values())
    dx = diagnosis(
        record,
        preferred=[ref for m in med_facts for ref in m.reason_references],
        extra_codes=[*dx_codes, *(c for m in med_facts for c in m.reason_codes)],
        setting_hints=[m.setting for m in med_facts],
        line_hints=[m.line_of_therapy for m in med_facts],
    )
    if secondary_codes:
        dx = _with_secondary(dx, secondary_codes)

    coverage_ref = next((ins.coverage.reference for ins in claim.insurance or []
                         if ins.focal and ins.coverage), None)
    coverage = focal_coverage(record, coverage_ref)
    mem = member(record, coverage)
    ordering, servicing = _providers(claim, index)
    start = min((d.start for d in lines if d.start), default=None)
    return Order(
        request_id=_request_id(claim, bundle),
        member=mem,
        ordering_provider=ordering,
        servicing_provider=servicing,
        diagnosis=dx,
        drugs=tuple(lines),
        treatment_start=start,
        received_at=received_at,
        urgency=_urgency(claim),
        clinical_trial_nct=nct,
        supportive_only=bool(lines) and all(d.role is DrugRole.SUPPORTIVE for d in lines),
        prior_order_id=_prior_order_id(claim, index),
        payer_id=_payer_id(claim, index),
        **patient_fields(record, extra_risk=risk),
    )


# --- items -----------------------------------------------------------------------------------

def _item_line(item, med: MedicationFacts | None) -> DrugLine:
    codes = tuple(c for c in (to_code(x) for x in codings(item.productOrService)) if c)
    codes += _cpt_twins(codes)
    start = as_date(item.servicedDate) or (as_date(item.servicedPeriod.start) if item.servicedPeriod else None)
    end = as_date(item.servicedPeriod.end) if item.servicedPeriod else None
    modifiers = {c.code for m in item.modifier or [] for c in codings(m)}
    role = (DrugRole.INVESTIGATIONAL if modifiers & set(table("pas")["investigational_modifiers"])
            else (med.line.role if med else DrugRole.UNKNOWN))
    quantity = float(item.quantity.value) if item.quantity and item.quantity.value is not None else None
    quantity_unit = (item.quantity.code or item.quantity.unit) if quantity is not None else None
    base = med.line if med else None
    return DrugLine(
        ref=f"item/{item.sequence}",
        codes=codes + tuple(c for c in (base.codes if base else ()) if c not in codes),
        display=concept_text(item.productOrService) or (base.display if base else None),
        role=role,
        route=base.route if base else None,
        dose=base.dose if base else None,
        dose_unit=base.dose_unit if base else None,
        cycle_length_days=base.cycle_length_days if base else None,
        administration_days=base.administration_days if base else (),
        cycles=base.cycles if base else None,
        until_progression=base.until_progression if base else False,
        frequency_per_day=base.frequency_per_day if base else None,
        quantity=quantity,
        quantity_unit=quantity_unit,
        start=start or (base.start if base else None),
        end=end or (base.end if base else None),
        segments=base.segments if base else (),
    )


def _cpt_twins(codes: tuple[Code, ...]) -> tuple[Code, ...]:
    level1 = re.compile(table("pas")["hcpcs_level1_pattern"])
    sent = {(c.system, c.code) for c in codes}
    return tuple(Code(system("cpt"), c.code, c.display) for c in codes
                 if c.system == system("hcpcs") and level1.match(c.code)
                 and (system("cpt"), c.code) not in sent)


def _requested_medication(item, index: ResourceIndex, path: str) -> MedicationFacts | None:
    url = table("pas")["extension_base"] + "extension-requestedService"
    for ext in extensions(item, url):
        ref = ext.valueReference.reference if ext.valueReference else None
        raw, rpath = index.resolve(ref)
        if raw is not None and raw.get("resourceType") == "MedicationRequest":
            return drug_line(raw, rpath, index)
    return None


def _cancelled(item) -> bool:
    pas = table("pas")
    base = pas["extension_base"]
    for ext in getattr(item, "modifierExtension", None) or []:
        if ext.url == base + pas["cancelled_modifier_extension"] and ext.valueBoolean:
            return True
    for ext in extensions(item, base + "extension-certificationType"):
        if any(c.code in pas["cancel_certification_codes"] for c in codings(ext.valueCodeableConcept)):
            return True
    return False


# --- claim header ----------------------------------------------------------------------------

def _urgency(claim) -> Urgency:
    pas = table("pas")
    urls = [pas["extension_base"] + u for u in pas["level_of_service_extensions"]]
    for ext in extensions(claim, urls):
        if any(c.code in pas["urgent_level_of_service_codes"] for c in codings(ext.valueCodeableConcept)):
            return Urgency.URGENT
    if any(c.code in pas["urgent_priorities"] for c in codings(claim.priority)):
        return Urgency.URGENT
    return Urgency.STANDARD


def _providers(claim, index: ResourceIndex) -> tuple[Provider, Provider | None]:
    """Ordering = an individual on the care team (or the requestor, if individual)."""
    requestor = provider_from_reference(claim.provider.reference if claim.provider else None, index,
                                        claim.provider.display if claim.provider else None)
    team = []
    for member_ in sorted(claim.careTeam or [], key=lambda m: m.sequence or 0):
        p = provider_from_reference(member_.provider.reference if member_.provider else None, index)
        if p is not None:
            team.append(p)
    individuals = [p for p in [*team, requestor] if p is not None and p.kind is ProviderKind.INDIVIDUAL]
    ordering = individuals[0] if individuals else (requestor or unknown_provider())
    servicing = requestor if requestor is not None and requestor != ordering else None
    return ordering, servicing


def _request_id(claim, bundle: dict) -> str:
    for ident in claim.identifier or []:
        if ident.value:
            return ident.value
    return str(obj(bundle.get("identifier")).get("value") or claim.id or "claim")


def _prior_order_id(claim, index: ResourceIndex) -> str | None:
    wanted = set(table("pas")["prior_claim_relationships"])
    for rel in claim.related or []:
        codes = {c.code for c in codings(rel.relationship)}
        if codes and not codes & wanted:
            continue
        if rel.reference is not None and rel.reference.value:
            return rel.reference.value
        ref = rel.claim
        if ref is None:
            continue
        if ref.identifier is not None and ref.identifier.value:
            return ref.identifier.value
        raw, _ = index.resolve(ref.reference)
        if raw is not None:
            value = next((obj(i).get("value") for i in arr(raw.get("identifier")) if obj(i).get("value")), None)
            if value:
                return value
        if ref.reference:
            return ref.reference.rstrip("/").split("/")[-1]
    return None


def _payer_id(claim, index: ResourceIndex) -> str | None:
    if claim.insurer is None:
        return None
    if claim.insurer.identifier is not None and claim.insurer.identifier.value:
        return claim.insurer.identifier.value
    raw, path = index.resolve(claim.insurer.reference)
    if raw is not None and raw.get("resourceType") == "Organization":
        org = parse(raw, path, "Organization")
        return identifier_value(org.identifier, "npi") or claim.insurer.reference
    return claim.insurer.reference


def _with_secondary(dx, secondary_codes):
    from dataclasses import replace
    known = {(c.system, c.code) for c in dx.metastatic_sites}
    sites = dx.metastatic_sites + tuple(c for c in secondary_codes if (c.system, c.code) not in known)
    return replace(dx, metastatic_sites=sites, setting=Setting.METASTATIC)
