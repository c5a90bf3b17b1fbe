"""Decision ⇄ readable text (the CLI, the order summary) and ⇄ JSON-safe dict (storage, --json).

`decision_from_dict(decision_to_dict(d)) == d` for every Decision (server.domain.codec).
"""
from __future__ import annotations

from datetime import timedelta

from server.domain.calendar import OPEN_HORIZON_DAYS, describe_pattern, expand_segments, pattern_of
from server.domain.codec import from_jsonable, to_jsonable
from server.domain.decision import Decision
from server.domain.order import Order

from .calendars import line_segments

CALENDAR_SHOWN = 8   # administrations listed per drug; the rest are counted


# ----------------------------------------------------------------------------- dict form
def decision_to_dict(decision: Decision) -> dict:
    return to_jsonable(decision)


def decision_from_dict(data: dict) -> Decision:
    return from_jsonable(Decision, data)


# ----------------------------------------------------------------------------- text form
def explain(decision: Decision, order: Order | None = None) -> str:
    """The decision in words; with the order, also the administration calendar read for each drug."""
    d = decision
    out: list[str] = [f"Case status: {d.case_status.value}"
                      + ("" if d.in_program else " (not in program)")]
    if d.program_reason:
        out.append(f"  {d.program_reason.text}")
    out.append(f"Knowledge base: {d.kb_version}" + (f"   Cancer type: {d.cancer_type}" if d.cancer_type else ""))
    out.append("Drugs:")
    for drug in d.drugs:
        head = f"  - {drug.display} [{drug.drug_key or 'unrecognized'}]: {drug.status.value}"
        extras = [x for x in (
            f"HCPCS {drug.hcpcs}" if drug.hcpcs else "",
            f"{drug.benefit.value} benefit" if drug.benefit else "",
            f"{drug.authorized_from.isoformat()}..{drug.authorized_to.isoformat()}"
            if drug.authorized_from and drug.authorized_to else "",
            f"visits {drug.visits}" if drug.visits is not None else "",
            f"billing units {drug.billing_units:g}" if drug.billing_units is not None else "",
            f"contact {drug.contact}" if drug.contact else "",
        ) if x]
        out.append(head + (f" ({'; '.join(extras)})" if extras else ""))
        out.extend(f"      {r.text}" for r in drug.reasons)
    if order is not None:
        _section(out, "Calendar read (FHIR Timing)", calendar_lines(order))
    if d.pathway:
        pm = d.pathway
        eligible = f"Pathway Eligible ID {pm.pathway_eligible_id}" if pm.pathway_eligible_id \
            else "not pathway-eligible yet"
        out.append(f"Pathway: {pm.pathway_name} / {pm.regimen_name} ({eligible})")
    elif d.in_program:
        out.append("Pathway: none (off pathway)")
    _section(out, "Deviations", [f"[{x.severity.value}] {x.kind.value}: {x.text}" for x in d.deviations])
    _section(out, "On-pathway alternatives", [
        f"{a.regimen_name} ({', '.join(a.drug_keys)})" + (" [precision]" if a.precision else "")
        for a in d.alternatives])
    _section(out, "S-codes", [f"{s.code} {s.valid_from.isoformat()}..{s.valid_to.isoformat()} "
                              f"max {s.max_units} unit(s): {s.note}" for s in d.s_codes])
    _section(out, "Precision benefit", [f"{p.drug_key} ({p.biomarker}): {p.text}" for p in d.precision_benefits])
    _section(out, "Trial options", [t.text for t in d.trial_pointers])
    _section(out, "Notices", [n.text for n in d.notices])
    _section(out, "Pended because", [r.text for r in d.pend_reasons])
    if d.due_by:
        out.append(f"Decision due by: {d.due_by.isoformat()}")
    if d.duplicate_of:
        out.append(f"Possible duplicate of Order ID {d.duplicate_of}")
    _section(out, "Trace", [f"{t.rule}: {t.text}" for t in d.trace])
    return "\n".join(out)


def calendar_lines(order: Order) -> list[str]:
    """Per drug line: the schedule in words and its first administrations (date, dose)."""
    lines = []
    for line in order.drugs:
        name = line.display or line.ref
        segments = line_segments(line)
        if not segments:
            lines.append(f"{name}: no timing given")
            continue
        admins = expand_segments(segments)
        open_ended = any(s.open_ended for s in segments)
        words = describe_pattern(pattern_of(admins), open_ended)
        start = line.start or order.treatment_start
        shown = []
        for a in admins[:CALENDAR_SHOWN]:
            when = (start + timedelta(days=a.day + line.start_offset_days)).isoformat() if start else f"day {a.day + 1}"
            dose = f" {a.dose:g} {a.dose_unit or ''}".rstrip() if a.dose is not None else ""
            times = f" x{a.times}" if a.times > 1 else ""
            shown.append(f"{when}{dose}{times}")
        more = len(admins) - len(shown)
        count = (f"open-ended ({len(admins)} administration day(s) in its first {OPEN_HORIZON_DAYS} days)"
                 if open_ended else f"{len(admins)} administration day(s)")
        lines.append(f"{name}: {words}; {count}: " + ", ".join(shown) + (f", ... {more} more" if more > 0 else ""))
    return lines


def _section(out: list[str], title: str, lines: list[str]) -> None:
    if lines:
        out.append(f"{title}:")
        out.extend(f"  - {x}" for x in lines)
