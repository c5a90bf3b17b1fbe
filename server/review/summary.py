"""R16 order summary: what a provider's billing office needs, from a stored case.

Per managed drug: name and HCPCS code, dosing, number of visits, billing units, valid date
range and drug status; for the case: Order ID, case status, Pathway Eligible ID, S-codes with
their billing windows, and who reviews the drugs the program does not. Plain data: the HTML
template and tests read the same dict.
"""
from __future__ import annotations

from server.domain.calendar import describe_pattern, expand_segments, pattern_of
from server.domain.decision import CaseStatus, Decision, DrugStatus
from server.domain.order import Order


def _dosing(line) -> str:
    if line is None:
        return ""
    parts = []
    if line.segments:
        # the calendar read from FHIR Timing: each dose as ordered, then the rhythm
        admins = expand_segments(line.segments)
        doses = list(dict.fromkeys(f"{a.dose:g} {a.dose_unit or ''}".strip() for a in admins if a.dose is not None))
        if doses:
            parts.append(" then ".join(doses))
        if line.route:
            parts.append(line.route)
        if admins:
            parts.append(describe_pattern(pattern_of(admins), any(s.open_ended for s in line.segments)))
        return ", ".join(parts)
    if line.dose is not None:
        parts.append(f"{line.dose:g} {line.dose_unit or ''}".strip())
    if line.route:
        parts.append(line.route)
    if line.administration_days and line.cycle_length_days:
        parts.append(f"day{'s' if len(line.administration_days) > 1 else ''} "
                     f"{', '.join(str(d) for d in line.administration_days)} of a {line.cycle_length_days}-day cycle")
    elif line.cycle_length_days:
        parts.append(f"every {line.cycle_length_days} days")
    if line.cycles:
        parts.append(f"{line.cycles} cycles")
    elif line.until_progression:
        parts.append("until progression")
    return ", ".join(parts)


def summary_view(order_id: str, order: Order, decision: Decision, *, status: str, received_at, updated_at) -> dict:
    lines = {l.ref: l for l in order.drugs}
    drugs = []
    for d in decision.drugs:
        line = lines.get(d.ref)
        drugs.append({
            "ref": d.ref, "name": d.display, "drugKey": d.drug_key, "hcpcs": d.hcpcs, "status": d.status.value,
            "dosing": _dosing(line), "visits": d.visits, "billingUnits": d.billing_units,
            "validFrom": d.authorized_from.isoformat() if d.authorized_from else None,
            "validTo": d.authorized_to.isoformat() if d.authorized_to else None,
            "contact": d.contact, "reasons": [r.text for r in d.reasons],
        })
    pathway = decision.pathway
    denied = status == CaseStatus.NON_AUTHORIZED.value
    return {
        "orderId": order_id,
        "caseStatus": status,
        "receivedAt": received_at.isoformat() if received_at else None,
        "updatedAt": updated_at.isoformat() if updated_at else None,
        "treatmentStart": order.treatment_start.isoformat() if order.treatment_start else None,
        "pathwayEligibleId": None if denied or pathway is None else pathway.pathway_eligible_id,
        "pathway": ({"name": pathway.pathway_name, "regimen": pathway.regimen_name} if pathway else None),
        "sCodes": [{"code": s.code, "validFrom": s.valid_from.isoformat(), "validTo": s.valid_to.isoformat(),
                    "maxUnits": s.max_units, "note": s.note} for s in decision.s_codes],
        "drugs": drugs,
        "billingTotals": _billing_totals(decision),
        "pendReasons": [r.text for r in decision.pend_reasons],
        "dueBy": decision.due_by.isoformat() if decision.due_by and status == CaseStatus.IN_PROGRESS.value else None,
        "kbVersion": decision.kb_version,
    }


def _billing_totals(decision: Decision) -> list[dict]:
    """Authorized billing units per HCPCS code (each administration rounded up, R16)."""
    totals: dict[str, float] = {}
    for d in decision.drugs:
        if d.status is DrugStatus.AUTHORIZED and d.hcpcs and d.billing_units is not None:
            totals[d.hcpcs] = totals.get(d.hcpcs, 0.0) + d.billing_units
    return [{"hcpcs": code, "units": units} for code, units in totals.items()]
