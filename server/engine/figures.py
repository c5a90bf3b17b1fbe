"""R16: what the order summary shows for an authorized drug: valid dates, visits,
billing units and the HCPCS code."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from server.knowledge.model import Drug, Regimen

from .context import DrugWork
from .regimens import cycle_length, regimen_drug, regimen_end

_MASS_IN_MG = {"mg": 1.0, "mcg": 0.001, "g": 1000.0}


@dataclass(frozen=True)
class Figures:
    authorized_from: date
    authorized_to: date
    visits: int | None
    billing_units: float | None
    hcpcs: str | None


def figures_for(w: DrugWork, regimen: Regimen | None, start: date) -> Figures:
    end = regimen_end(regimen, start)
    visits = _visits(w, regimen, start, end)
    return Figures(start, end, visits, _billing_units(w, visits), _hcpcs(w.drug))


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
    h = w.drug.hcpcs[0]
    dose_factor = _MASS_IN_MG.get(line.dose_unit.lower())
    unit_factor = _MASS_IN_MG.get(h.unit.lower())
    if dose_factor is None or unit_factor is None or h.unit_amount <= 0:
        return None   # per-m2 / per-kg / AUC doses: units depend on the patient, not computable here
    per_visit = math.ceil(line.dose * dose_factor / (h.unit_amount * unit_factor) - 1e-9)
    return float(per_visit * visits)


def _hcpcs(drug: Drug | None) -> str | None:
    return drug.hcpcs[0].code if drug is not None and drug.hcpcs else None
