"""R5 on calendars: the order's administrations against the regimen's, drug by drug.

The regimen side expands the knowledge base's phases (each drug's schedule, its labelled
alternatives and cycle overrides) into `Administration`s; the order side expands the drug
line's dose segments (read from FHIR Timing in mappings/timing.py). Two encodings of one
calendar are one calendar, so they get one answer.

An order may be for the whole regimen, one phase, or a contiguous run of phases (the
neoadjuvant part of KEYNOTE-522 alone): every run whose drugs are the drugs ordered is
tried, and the one that fits best is kept (the whole regimen wins ties). Between two phases
the order may wait longer than the regimen (surgery between neoadjuvant and adjuvant).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from server.domain.calendar import Administration, DoseSegment, OPEN_HORIZON_DAYS, Pattern, expand_segments, pattern_of
from server.domain.decision import DeviationKind
from server.domain.order import DrugLine, Order
from server.knowledge.model import FnRisk, Phase, Regimen, RegimenDrug, Schedule

_MASS_IN_MG = {"mg": 1.0, "mcg": 0.001, "g": 1000.0}
_RISK_ORDER = {FnRisk.LOW: 0, FnRisk.INTERMEDIATE: 1, FnRisk.HIGH: 2}


@dataclass(frozen=True)
class Expected:
    admins: tuple[Administration, ...]
    open_ended: bool
    label: str                                   # the schedule(s) chosen, in words
    phase_starts: frozenset[int] = frozenset()   # indexes of admins that begin a new phase
    cycles: int | None = None                    # repeats of its pattern (None: open-ended)


@dataclass
class DrugFit:
    key: str
    expected: Expected
    ordered: tuple[Administration, ...] | None   # None: the order gives no timing
    ordered_open: bool
    changes: list[tuple[DeviationKind, str]] = field(default_factory=list)
    dose_notes: list[str] = field(default_factory=list)


@dataclass
class Fit:
    regimen: Regimen
    run: tuple[int, int]
    drugs: dict[str, DrugFit]
    partial: bool

    @property
    def misfits(self) -> int:
        return sum(len(d.changes) for d in self.drugs.values())

    @property
    def dose_misfits(self) -> int:
        return sum(len(d.dose_notes) for d in self.drugs.values())

    @property
    def phases(self) -> tuple[Phase, ...]:
        return self.regimen.plan[self.run[0]:self.run[1] + 1]

    @property
    def fn_risk(self) -> FnRisk:
        """FN risk of the phases being given (the AC phase of AC-THP, not its HP phase)."""
        risks = [p.fn_risk or self.regimen.fn_risk for p in self.phases] or [self.regimen.fn_risk]
        return max(risks, key=_RISK_ORDER.__getitem__)

    @property
    def phase_names(self) -> str:
        return ", then ".join(p.name for p in self.phases)


# --- the regimen's calendar -------------------------------------------------------------------

def _entry(phase: Phase, key: str) -> RegimenDrug | None:
    for rd in phase.drugs:
        if rd.drug_key == key or key in rd.alternatives:
            return rd
    return None


def _schedules(rd: RegimenDrug) -> tuple[Schedule, ...]:
    if rd.schedules:
        return rd.schedules
    return (Schedule("as listed", rd.cycle_length_days or 1, rd.administration_days, rd.cycles,
                     rd.frequency_per_day, rd.dose, rd.dose_unit),)


_EXPECTED: dict[tuple, tuple[Regimen, Expected | None]] = {}


def expected_calendar(regimen: Regimen, run: tuple[int, int], key: str, choice: int,
                      horizon: int = OPEN_HORIZON_DAYS) -> Expected | None:
    """The regimen's calendar for one drug over a run of phases. It depends on the knowledge
    base alone, so it is computed once per regimen object (hot path)."""
    ck = (id(regimen), run, key, choice, horizon)
    hit = _EXPECTED.get(ck)
    if hit is not None and hit[0] is regimen:
        return hit[1]
    exp = _expected_calendar(regimen, run, key, choice, horizon)
    if len(_EXPECTED) > 20000:
        _EXPECTED.clear()
    _EXPECTED[ck] = (regimen, exp)
    return exp


def _expected_calendar(regimen: Regimen, run: tuple[int, int], key: str, choice: int,
                       horizon: int) -> Expected | None:
    admins: list[Administration] = []
    starts: set[int] = set()
    labels: list[str] = []
    offset = 0
    open_ended = False
    present = False
    for pi in range(run[0], run[1] + 1):
        ph = regimen.plan[pi]
        duration = ph.cycle_length_days * ph.cycles if ph.cycles else None
        rd = _entry(ph, key)
        if rd is not None:
            present = True
            options = _schedules(rd)
            s = options[min(choice, len(options) - 1)]
            labels.append(s.label)
            if admins:
                starts.add(len(admins))
            length = s.cycle_length_days
            n = s.cycles if s.cycles else (math.ceil(duration / length) if duration else None)
            limit = duration if duration and not s.cycles else None
            c = 0
            while (n is None and offset + c * length < horizon) or (n is not None and c < n):
                ov = next((o for o in s.overrides if c + 1 in o.cycles), None)
                days = ov.days if ov is not None and ov.days else s.administration_days
                dose = ov.dose if ov is not None and ov.dose is not None else s.dose
                for d in days:
                    day = c * length + d - 1
                    if limit is not None and day >= limit:
                        break
                    admins.append(Administration(offset + day, dose, s.dose_unit, s.frequency_per_day, pi))
                c += 1
            if n is None:
                open_ended = True
        if duration is None:
            break
        offset += duration
    if not present:
        return None
    label = " then ".join(dict.fromkeys(labels)) if len(set(labels)) > 1 else (labels[0] if labels else "")
    admins_t = tuple(admins)
    p = pattern_of(admins_t) if not open_ended else None
    cycles = None if open_ended else (p.repeats if p is not None and p.period else len(admins_t))
    return Expected(admins_t, open_ended, label, frozenset(starts), cycles)


# --- the order's calendar ---------------------------------------------------------------------

def order_start(order: Order, fallback: date) -> date:
    starts = [l.start for l in order.drugs if l.start is not None]
    return min(starts) if starts else (order.treatment_start or fallback)


def line_segments(line: DrugLine, planned: Schedule | None = None, planned_cycles: int | None = None
                  ) -> tuple[DoseSegment, ...]:
    """The line's calendar: its segments as read from FHIR Timing, or, for a line that only has
    the flat fields (a worksheet, a PAS item), the one segment they describe, the fields it does
    not report taken from the regimen's plan (compared "where reported")."""
    if line.segments:
        return line.segments
    reported = (line.cycle_length_days, tuple(line.administration_days), line.cycles, line.frequency_per_day)
    if not any(reported) and not line.until_progression:
        return ()
    days = tuple(line.administration_days) or (planned.administration_days if planned else (1,))
    period = line.cycle_length_days or (planned.cycle_length_days if planned else max(days))
    times = line.frequency_per_day or (planned.frequency_per_day if planned else 1)
    cycles = None if line.until_progression else (line.cycles or planned_cycles)
    return (DoseSegment(0, period, days, times, cycles, line.dose, line.dose_unit),)


def ordered_calendar(line: DrugLine, origin: date, planned: Schedule | None = None,
                     planned_cycles: int | None = None) -> tuple[tuple[Administration, ...], bool] | None:
    """The line's administrations as day offsets from `origin` (the order's first start)."""
    segments = line_segments(line, planned, planned_cycles)
    if not segments:
        return None
    shift = line.start_offset_days + ((line.start - origin).days if line.start else 0)
    admins = expand_segments(segments)
    if shift:
        admins = tuple(Administration(a.day + shift, a.dose, a.dose_unit, a.times) for a in admins)
    return admins, any(s.open_ended for s in segments)


# --- doses --------------------------------------------------------------------------------------

def convert_dose(dose: float | None, unit: str | None, to_unit: str | None, order: Order) -> float | None:
    """A dose in another unit, with the patient's weight and BSA (mg/kg <-> mg <-> mg/m2)."""
    if dose is None or not unit or not to_unit:
        return None
    u, t = unit.lower(), to_unit.lower()
    if u == t:
        return dose
    mg = to_mg(dose, u, order)
    if mg is None:
        return None
    if t in _MASS_IN_MG:
        return mg / _MASS_IN_MG[t]
    base, _, per = t.partition("/")
    if base in _MASS_IN_MG and per == "kg" and order.weight_kg:
        return mg / _MASS_IN_MG[base] / order.weight_kg
    if base in _MASS_IN_MG and per in ("m2", "m^2") and order.bsa_m2:
        return mg / _MASS_IN_MG[base] / order.bsa_m2
    return None


def to_mg(dose: float | None, unit: str | None, order: Order) -> float | None:
    """An absolute dose in mg; None for AUC (needs a creatinine clearance) or missing weight/BSA."""
    if dose is None or not unit:
        return None
    u = unit.lower()
    if u in _MASS_IN_MG:
        return dose * _MASS_IN_MG[u]
    base, _, per = u.partition("/")
    if base not in _MASS_IN_MG:
        return None
    if per == "kg" and order.weight_kg:
        return dose * _MASS_IN_MG[base] * order.weight_kg
    if per in ("m2", "m^2") and order.bsa_m2:
        return dose * _MASS_IN_MG[base] * order.bsa_m2
    return None


# --- comparing ------------------------------------------------------------------------------------

def compare(key: str, exp: Expected, ordered: tuple[Administration, ...], ordered_open: bool,
            regimen: Regimen, order: Order, tolerance_pct: float,
            doses_by_day: dict[int, list] | None = None, partial: bool = False) -> tuple[list, list]:
    """Schedule changes (pend) and dose notes (warning) of one drug. `doses_by_day`: when the
    drug is on several lines, every dose given on a day; the day's dose fits when one of them,
    or their sum, is within tolerance."""
    changes: list[tuple[DeviationKind, str]] = []
    doses: list[str] = []
    E, O = exp.admins, ordered
    if not E or not O:
        return changes, doses
    n = min(len(E), len(O))
    where = ""
    e0, o0 = E[0].day, O[0].day
    if all(E[i].day - e0 == O[i].day - o0 for i in range(n)):
        n_rhythm = 0     # same rhythm throughout: nothing to look at below
    else:
        n_rhythm = n
    for i in range(1, n_rhythm):
        dE, dO = E[i].day - E[i - 1].day, O[i].day - O[i - 1].day
        if dE == dO or (i in exp.phase_starts and dO > dE):
            continue
        kind, text = _rhythm_change(E, O, i, exp)
        if len(regimen.plan) > 1:
            where = f" in {regimen.plan[E[i].phase].name}"
        changes.append((kind, f"{key}: {text}{where}"))
        break
    for i in range(n):
        if E[i].times != O[i].times:
            changes.append((DeviationKind.FREQUENCY,
                            f"{key}: {_per_day(O[i].times)} instead of {_per_day(E[i].times)}"))
            break
    if partial and not exp.open_ended and (ordered_open or len(O) > len(E)):
        # ordered beyond the phases it matches: not "this part of the regimen" any more
        changes.append((DeviationKind.CYCLE_COUNT,
                        f"{key}: {'open-ended' if ordered_open else f'{len(O)} administration days'} "
                        f"instead of {len(E)} ({exp.label})"))
    elif not exp.open_ended and not ordered_open and (len(O) != len(E) if regimen.fixed_duration
                                                      else len(O) > len(E)):
        # a fixed course must be ordered as is; an until-progression regimen with a cap
        # (pembrolizumab up to 35 cycles) may stop earlier, but more than the cap is a change (R5)
        relation = "instead of" if regimen.fixed_duration else "more than the pathway's"
        pe, po = pattern_of(E), pattern_of(O)
        if pe and po and pe.period and (pe.period, pe.days) == (po.period, po.days):
            text = f"{po.repeats} cycles {relation} {pe.repeats} cycles ({_rhythm(pe)})"
        else:
            text = f"{len(O)} administration days {relation} {len(E)} ({exp.label})"
        changes.append((DeviationKind.CYCLE_COUNT, f"{key}: {text}"))
    # doses, administration by administration, in the regimen's unit
    off = []
    for i in range(n):
        if E[i].dose is None or O[i].dose is None:
            continue
        if doses_by_day is None and O[i].dose_unit == E[i].dose_unit:
            if abs(O[i].dose - E[i].dose) > E[i].dose * tolerance_pct / 100 + 1e-9:
                off.append(i)
            continue
        options = doses_by_day.get(O[i].day, []) if doses_by_day else [(O[i].dose, O[i].dose_unit)]
        got = [convert_dose(d, u, E[i].dose_unit, order) for d, u in options]
        got = [g for g in got if g is not None]
        if not got:
            continue
        if len(got) > 1:
            got.append(sum(got))
        if all(abs(g - E[i].dose) > E[i].dose * tolerance_pct / 100 + 1e-9 for g in got):
            off.append(i)
    if off:
        i = off[0]
        which = "every administration" if len(off) == n else (
            f"administration {i + 1}" if len(off) == 1 else f"{len(off)} of {n} administrations")
        doses.append(f"{key}: {O[i].dose:g} {O[i].dose_unit} instead of {E[i].dose:g} {E[i].dose_unit} "
                     f"({which}; regimen schedule {exp.label}, tolerance {tolerance_pct:g}%); verify the dose entered")
    return changes, doses


def _per_day(times: int) -> str:
    return {1: "once a day", 2: "twice a day", 3: "three times a day"}.get(times, f"{times} times a day")


def _segment(admins, i: int, starts: frozenset[int]) -> list[Administration]:
    lo = max([s for s in starts if s <= i] or [0])
    hi = min([s for s in starts if s > i] or [len(admins)])
    return list(admins[lo:hi])


def _rhythm(p: Pattern | None) -> str:
    if p is None or p.period is None:
        return "a single administration" if p is None or p.count <= 1 else \
            "days " + ", ".join(str(d) for d in p.days)
    if len(p.days) == 1:
        return "daily" if p.period == 1 else f"every {p.period} days"
    if p.days == tuple(range(1, p.days[-1] + 1)):
        return f"days 1-{p.days[-1]} of every {p.period} days"
    return "days " + ", ".join(str(d) for d in p.days) + f" of every {p.period} days"


def _rhythm_change(E, O, i: int, exp: Expected) -> tuple[DeviationKind, str]:
    seg = _segment(E, i, exp.phase_starts)
    lo = E.index(seg[0])
    o_seg = list(O[lo:lo + len(seg)])
    pe, po = pattern_of(seg), pattern_of(o_seg)
    text = f"{_rhythm(po)} instead of {_rhythm(pe)}"
    if pe and po and pe.days == po.days and pe.period != po.period:
        return DeviationKind.CYCLE_LENGTH, text
    return DeviationKind.ADMINISTRATION_DAYS, text


# --- fitting a regimen ------------------------------------------------------------------------

def fit_regimen(regimen: Regimen, lines: dict[str, list[DrugLine]], order: Order, origin: date) -> Fit:
    """The best (run of phases, schedule choice per drug) for the drugs ordered."""
    ordered_keys = set(lines)
    runs = regimen.phase_runs() or [(0, 0)]
    best: Fit | None = None
    for run in runs:
        run_drugs = regimen.run_drugs(*run)
        keys_in_run = {k for k in ordered_keys if any(rd.drug_key == k or k in rd.alternatives for rd in run_drugs)}
        required = {rd.drug_key for rd in run_drugs if not rd.optional}
        covered = all(rd.drug_key in ordered_keys or any(a in ordered_keys for a in rd.alternatives)
                      for rd in run_drugs if rd.drug_key in required)
        if keys_in_run != {k for k in ordered_keys if _in_regimen(regimen, k)} or not covered:
            continue
        fit = _fit_run(regimen, run, lines, order, origin)
        rank = (fit.misfits, fit.partial, fit.dose_misfits)
        if best is None or rank < (best.misfits, best.partial, best.dose_misfits):
            best = fit
    return best or _fit_run(regimen, runs[0], lines, order, origin)


def _in_regimen(regimen: Regimen, key: str) -> bool:
    return any(rd.drug_key == key or key in rd.alternatives for rd in regimen.drugs)


def _fit_run(regimen: Regimen, run: tuple[int, int], lines: dict[str, list[DrugLine]], order: Order,
             origin: date) -> Fit:
    drugs: dict[str, DrugFit] = {}
    phases = regimen.plan[run[0]:run[1] + 1]
    for key, klines in lines.items():
        entries = [rd for ph in phases if (rd := _entry(ph, key)) is not None]
        if not entries:
            continue
        n_choices = max(len(_schedules(rd)) for rd in entries)
        rd0 = entries[0]
        plans = _schedules(rd0)
        chosen: DrugFit | None = None
        for choice in range(n_choices):
            exp = expected_calendar(regimen, run, key, choice)
            if exp is None:
                continue
            plan = plans[min(choice, len(plans) - 1)]
            planned_cycles = exp.cycles
            cal = None
            doses_by_day: dict[int, list[tuple[float | None, str | None]]] = {}
            for line in klines:
                got = ordered_calendar(line, origin, plan, planned_cycles)
                if got is None:
                    continue
                for a in got[0]:
                    doses_by_day.setdefault(a.day, []).append((a.dose, a.dose_unit))
                if cal is None:
                    cal = got
                else:   # the same drug on two lines (5-FU bolus and infusion): one calendar
                    merged = {a.day: a for a in got[0]} | {a.day: a for a in cal[0]}
                    cal = (tuple(merged[d] for d in sorted(merged)), cal[1] or got[1])
            df = DrugFit(key, exp, cal[0] if cal else None, cal[1] if cal else False)
            if cal is not None:
                df.changes, df.dose_notes = compare(key, exp, cal[0], cal[1], regimen, order, rd0.dose_tolerance_pct,
                                                    doses_by_day if len(klines) > 1 else None,
                                                    partial=run != (0, len(regimen.plan) - 1))
            if chosen is None or (len(df.changes), len(df.dose_notes)) < (len(chosen.changes), len(chosen.dose_notes)):
                chosen = df
        if chosen is not None:
            drugs[key] = chosen
    _check_sequence(regimen, drugs)
    partial = run != (0, max(0, len(regimen.plan) - 1))
    return Fit(regimen, run, drugs, partial)


def _check_sequence(regimen: Regimen, drugs: dict[str, DrugFit]) -> None:
    """When the order dates its drugs apart (start dates, RequestGroup sequencing), a drug of a
    later phase must not start before its phase: AC given with paclitaxel instead of after it.
    Later is allowed (a wait between phases). Orders that give every drug one start date state
    no sequence, and none is inferred."""
    firsts = {k: df.ordered[0].day for k, df in drugs.items() if df.ordered and df.expected.admins}
    if len(set(firsts.values())) < 2:
        return
    origin = min(firsts.values())
    for key, first in firsts.items():
        df = drugs[key]
        planned = df.expected.admins[0]
        if first - origin < planned.day:
            df.changes.append((DeviationKind.ADMINISTRATION_DAYS,
                               f"{key}: starts on day {first - origin + 1} instead of day {planned.day + 1} "
                               f"({regimen.plan[planned.phase].name})"))
