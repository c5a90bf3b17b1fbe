"""R5 deviations from the matched regimen's schedule (pend), and doses outside the drug's
set parameters (warning only)."""
from __future__ import annotations

from server.domain.decision import Deviation, DeviationKind, Severity

from .context import Case
from .matching import withdraw_eligibility
from .regimens import regimen_drug, schedule_changes


def schedule_deviations(case: Case) -> None:
    regimen = case.regimen
    if regimen is None:
        return
    found = 0
    for w in case.reviewed():
        rd = regimen_drug(regimen, w.key)
        if rd is None:
            continue
        for kind, text in schedule_changes(w.line, rd, regimen):
            case.deviate(Deviation(kind, Severity.PEND, f"{w.key}: {text}", drug_key=w.key))
            found += 1
    if found:
        withdraw_eligibility(case, f"{found} schedule deviation(s) from {regimen.name}")
    else:
        case.trace.add("R5", f"schedule consistent with {regimen.name} where reported")


def dose_warnings(case: Case) -> None:
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
