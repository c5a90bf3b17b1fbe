"""R5 deviations from the matched regimen's schedule (pend), and doses outside the drug's
set parameters (warning only)."""
from __future__ import annotations

from server.domain.decision import Deviation, DeviationKind, Severity

from .context import Case
from .matching import withdraw_eligibility
from .regimens import schedule_fit


def schedule_deviations(case: Case) -> None:
    """R5 on calendars: each drug's administrations as ordered against the regimen's (the
    whole regimen, one phase or a run of phases, labelled alternatives included)."""
    regimen = case.regimen
    if regimen is None:
        return
    fit = schedule_fit(case, regimen)
    if len(regimen.phases) > 1:
        case.trace.add("R5", f"ordered as {regimen.name}: {fit.phase_names}")
    found = 0
    read = []
    for key, df in fit.drugs.items():
        if df.ordered is None:
            read.append(f"{key}: no timing, the regimen's {df.expected.label} assumed")
            continue
        read.append(f"{key}: {len(df.ordered)}{'+' if df.ordered_open else ''} administration day(s) "
                    f"against {df.expected.label}")
        for kind, text in df.changes:
            case.deviate(Deviation(kind, Severity.PEND, text, drug_key=key))
            found += 1
    if read:
        case.trace.add("R5", "calendars compared: " + "; ".join(read))
    if found:
        withdraw_eligibility(case, f"{found} schedule deviation(s) from {regimen.name}")
    else:
        case.trace.add("R5", f"schedule consistent with {regimen.name} where reported")


def dose_warnings(case: Case) -> None:
    """R5: a dose outside the drug's set parameters, or further from the matched regimen's dose
    than its tolerance, is a warning (staff verify the dose entered); it never pends."""
    if case.regimen is not None:
        for key, df in schedule_fit(case, case.regimen).drugs.items():
            for text in df.dose_notes:
                case.deviate(Deviation(DeviationKind.DOSE, Severity.WARNING, text, drug_key=key))
    for w in case.reviewed():
        line = w.line
        if line.dose is None or not line.dose_unit or not w.drug.dose_range:
            continue
        for rng in w.drug.dose_range:
            if rng.unit.lower() != line.dose_unit.lower():
                continue
            if not rng.min <= line.dose <= rng.max:
                case.deviate(Deviation(
                    DeviationKind.DOSE, Severity.WARNING,
                    f"{w.key}: dose {line.dose:g} {line.dose_unit} outside the set parameters "
                    f"{rng.min:g}–{rng.max:g} {rng.unit}; verify the dose entered", drug_key=w.key))
            break
