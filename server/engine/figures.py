"""R16: what the order summary shows for an authorized drug: valid dates, visits,
billing units and the HCPCS code, all read from the drug's administration calendar
(server/engine/calendars.py): the period runs from the first to the last administration (six
months when open-ended, R15/R16), visits are the administration days in it, and billing units
are counted per administration (each dose rounded up to whole HCPCS units, then summed)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from server.knowledge.model import HCPCS, HcpcsCode, Regimen

from .calendars import order_start, to_mg
from .context import ORAL_FORM, DrugWork
from .dates import add_months
from .regimens import INDEFINITE_MONTHS, cycle_length, regimen_drug, regimen_end, schedule_fit

_MASS_IN_MG = {"mg": 1.0, "mcg": 0.001, "g": 1000.0}


@dataclass(frozen=True)
class Figures:
    authorized_from: date
    authorized_to: date
    visits: int | None
    billing_units: float | None
    hcpcs: str | None


def figures_for(w: DrugWork, regimen: Regimen | None, start: date, case=None) -> Figures:
    if case is not None and regimen is not None:
        fig = _calendar_figures(case, w, regimen, start)
        if fig is not None:
            return fig
    end = regimen_end(regimen, start)
    visits = _visits(w, regimen, start, end)
    return Figures(start, end, visits, _billing_units(w, visits), _hcpcs(w))


def _calendar_figures(case, w: DrugWork, regimen: Regimen, start: date) -> Figures | None:
    df = schedule_fit(case, regimen).drugs.get(w.key)
    if df is None:
        return None
    if df.ordered is not None:
        admins, open_ended = df.ordered, df.ordered_open
    else:
        admins, open_ended = df.expected.admins, df.expected.open_ended
    if not admins:
        return None
    origin = order_start(case.order, start)
    first = max(start, origin + timedelta(days=admins[0].day))
    last = add_months(first, INDEFINITE_MONTHS) - timedelta(days=1) if open_ended \
        else max(first, origin + timedelta(days=admins[-1].day))
    lo, hi = (first - origin).days, (last - origin).days
    window = [(i, a) for i, a in enumerate(admins) if lo <= a.day <= hi]
    return Figures(first, last, len(window), _calendar_units(case, w, df, window), _hcpcs(w))


def _calendar_units(case, w: DrugWork, df, window) -> float | None:
    if w.line.quantity is not None:
        return float(w.line.quantity)
    if w.drug is None or not w.drug.hcpcs or not window:
        return None
    h = billing_code(w)
    if h is None:
        return None
    unit_mg = _MASS_IN_MG.get(h.unit.lower())
    if unit_mg is None or h.unit_amount <= 0:
        return None
    planned = df.expected.admins
    per_unit = h.unit_amount * unit_mg
    units_of: dict = {}
    total = 0
    for idx, adm in window:
        if df.ordered is not None:
            dose, unit = adm.dose, adm.dose_unit
        else:   # no timing on the order: its stated dose on the regimen's days
            dose, unit = w.line.dose, w.line.dose_unit
        if dose is None and idx < len(planned):
            dose, unit = planned[idx].dose, planned[idx].dose_unit
        units = units_of.get((dose, unit))
        if units is None:
            mg = to_mg(dose, unit, case.order)
            if mg is None:
                return None   # AUC dosing, or weight / BSA not in the record: not computable here
            units = units_of[(dose, unit)] = math.ceil(mg / per_unit - 1e-9)   # rounded per administration
        total += units * adm.times
    return float(total)


def _visits(w: DrugWork, regimen: Regimen | None, start: date, end: date) -> int | None:
    rd = regimen_drug(regimen, w.key)
    line = w.line
    length = line.cycle_length_days or (rd.cycle_length_days if rd else None) \
        or (cycle_length(regimen) if regimen else None)
    days = tuple(line.administration_days) or (tuple(rd.administration_days) if rd else ())
    if not length or not days:
        return None
    fitting = math.ceil(((end - start).days + 1) / length)
    planned = line.cycles or (rd.cycles if rd else None) or \
        (regimen.planned_cycles if regimen and regimen.fixed_duration else None)
    cycles = min(planned, fitting) if planned else fitting
    return cycles * len(days)


def _billing_units(w: DrugWork, visits: int | None) -> float | None:
    line = w.line
    if line.quantity is not None:
        return float(line.quantity)
    if visits is None or line.dose is None or not line.dose_unit or w.drug is None or not w.drug.hcpcs:
        return None
    h = billing_code(w)
    if h is None:
        return None
    dose_factor = _MASS_IN_MG.get(line.dose_unit.lower())
    unit_factor = _MASS_IN_MG.get(h.unit.lower())
    if dose_factor is None or unit_factor is None or h.unit_amount <= 0:
        return None   # per-m2 / per-kg / AUC doses: units depend on the patient, not computable here
    per_visit = math.ceil(line.dose * dose_factor / (h.unit_amount * unit_factor) - 1e-9)
    return float(per_visit * visits)


def billing_code(w: DrugWork) -> HcpcsCode | None:
    """The HCPCS code the drug is billed under: the product code the request names when it is one
    of the drug's (a biosimilar's Q-code, Hylecta's J9356), else the drug's first (originator) code
    of the form ordered — never a code the current CMS file no longer lists, nor one labeler's
    product code for another product (intravenous cyclophosphamide named by no code has none)."""
    if w.drug is None or not w.drug.hcpcs:
        return None
    sent = {c.code.upper() for c in w.line.codes if c.system == HCPCS and c.code}
    named = next((h for h in w.drug.hcpcs if h.code.upper() in sent), None)
    if named is not None:
        return named
    return next((h for h in w.drug.hcpcs if not h.retired and not h.product
                 and bool(ORAL_FORM.search(h.description)) == w.oral), None)


def _hcpcs(w: DrugWork) -> str | None:
    h = billing_code(w)
    return h.code if h else None
