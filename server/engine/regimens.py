"""Facts about a knowledge-base regimen the rules share: its drug entries and duration."""
from __future__ import annotations

from datetime import date, timedelta

from server.domain.order import DrugLine
from server.knowledge.model import Regimen, RegimenDrug

from .calendars import Fit, fit_regimen, order_start
from .dates import add_months

INDEFINITE_MONTHS = 6   # R15/R16: an indefinite regimen is authorized 6 months at a time


def regimen_drug(regimen: Regimen | None, key: str | None) -> RegimenDrug | None:
    """The regimen's entry for a drug, interchangeable drugs included."""
    if regimen is None or key is None:
        return None
    for rd in regimen.drugs:
        if rd.drug_key == key or key in rd.alternatives:
            return rd
    return None


def cycle_length(regimen: Regimen) -> int | None:
    if regimen.cycle_length_days:
        return regimen.cycle_length_days
    return next((d.cycle_length_days for d in regimen.drugs if d.cycle_length_days), None)


def fixed_days(regimen: Regimen | None) -> int | None:
    """Planned duration of a fixed-duration regimen in days; None when indefinite or unknown."""
    if regimen is None or not regimen.fixed_duration:
        return None
    length = cycle_length(regimen)
    if not regimen.planned_cycles or not length:
        return None
    return regimen.planned_cycles * length


def regimen_end(regimen: Regimen | None, start: date) -> date:
    """Last day of the regimen: its planned cycles if fixed, else six months (then a new request)."""
    days = fixed_days(regimen)
    if days is not None:
        return start + timedelta(days=days - 1)
    return add_months(start, INDEFINITE_MONTHS) - timedelta(days=1)


def schedule_fit(case, regimen: Regimen) -> Fit:
    """The order's calendars against the regimen's (server/engine/calendars.py), once per
    regimen and case."""
    fit = case.schedule_fits.get(regimen.id)
    if fit is None:
        lines: dict[str, list[DrugLine]] = {}
        for w in case.reviewed():
            if regimen_drug(regimen, w.key) is not None:
                lines.setdefault(w.key, []).append(w.line)
        fit = fit_regimen(regimen, lines, case.order, order_start(case.order, case.date_of_service))
        case.schedule_fits[regimen.id] = fit
    return fit


def course_end(case, start: date) -> date:
    """Last day of the course ordered: the last administration of any drug of the matched
    regimen as ordered (or as the regimen plans it when the order gives no timing); six months
    when the calendar is open-ended (R15/R16)."""
    regimen = case.regimen
    if regimen is None:
        return regimen_end(None, start)
    fit = schedule_fit(case, regimen)
    origin = order_start(case.order, start)
    last = None
    for df in fit.drugs.values():
        admins, open_ended = (df.ordered, df.ordered_open) if df.ordered is not None \
            else (df.expected.admins, df.expected.open_ended)
        if open_ended or not admins:
            return regimen_end(None, start)
        day = origin + timedelta(days=admins[-1].day)
        last = day if last is None or day > last else last
    if last is None:
        return regimen_end(regimen, start)
    return max(last, start)

