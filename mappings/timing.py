"""FHIR Timing (R4) -> the administration calendar of one drug line (server/domain/calendar.py).

Read as the specification defines the elements (https://hl7.org/fhir/R4/datatypes.html#Timing):

- `repeat.frequency` is the number of times the action is repeated within `repeat.period`
  (frequency 3, period 21 d = three administrations every 21 days; frequency 2, period 1 d =
  twice a day). Without named days, the administrations of a period are spaced evenly.
- `repeat.count` is "a total count of the desired number of repetitions across the duration of
  the entire timing specification": administrations, not cycles (capecitabine twice daily,
  count 28 = 28 doses = 14 days).
- `repeat.periodUnit` / `durationUnit` are UCUM units of time: `mo` is the mean Julian month,
  30.4375 d, and `a` the Julian year, 365.25 d (UCUM "mo_j", "a_j"; FHIR units-of-time).
- `repeat.boundsDuration` bounds the whole schedule ("the length of the timing schedule");
  `boundsPeriod` gives its start and end dates.
- `repeat.dayOfWeek`: the action happens only on those days; `repeat.when` / `timeOfDay`:
  that many administrations on each administration day.
- `timing.event`: the exact dates of the administrations.
- The days-of-cycle extension (core `timing-daysOfCycle`, CodeX OCPA/MOPA
  `regimen-days-of-cycle`, sub-extension `day`, "starting at one"): as in CodeX MOPA, `period`
  is then the cycle, the listed days are the administration days of each cycle and `count` is the
  number of cycles; `frequency` still counts administrations per period, so `frequency` equal to
  a multiple k of the listed days means k administrations on each listed day (frequency 1 with
  several listed days is read as once on each listed day, the form most EHRs send).
- Several `dosageInstruction`s are applied in `sequence` order: each sequence starts when the
  previous one ends (a loading dose once, then the maintenance dose), unless its own
  `boundsPeriod.start` places it; instructions sharing a sequence number run together.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from server.domain.calendar import DoseSegment, segments_span

from mappings.fhir import as_date, obj, table


@dataclass(frozen=True)
class TimingRead:
    segments: tuple[DoseSegment, ...]
    start: date | None
    end: date | None
    # summary of the first segment, for the flat DrugLine fields
    cycle_length_days: int | None
    administration_days: tuple[int, ...]
    cycles: int | None
    frequency_per_day: int | None
    open_ended: bool


def read_timing(dosages: list, dose_of, fallback_start: date | None = None) -> TimingRead:
    """`dosages`: MedicationRequest.dosageInstruction as raw JSON of a resource already
    validated (mappings.fhir.parse), read without walking the model (hot path);
    `dose_of(dosage)` -> (value, unit); `fallback_start`: the start when no boundsPeriod gives one
    (dispenseRequest.validityPeriod.start)."""
    ordered = [d for d in dosages if isinstance(d, dict)]
    ordered.sort(key=lambda d: d.get("sequence") or 0)
    timings = [_obj(d.get("timing")) for d in ordered]
    repeats = [_obj(t.get("repeat")) for t in timings]
    own_starts = [as_date(_obj(r.get("boundsPeriod")).get("start")) for r in repeats]
    starts = [x for x in own_starts if x is not None]
    base = min(starts) if starts else None
    if base is None:
        events = [e for t in timings for e in (as_date(x) for x in _arr(t.get("event"))) if e is not None]
        base = min(events) if events else fallback_start
    segments: list[DoseSegment] = []
    cursor = 0
    group_end = 0
    current_seq = object()
    end = None
    for d, timing, repeat, own in zip(ordered, timings, repeats, own_starts):
        if d.get("sequence") != current_seq:
            current_seq = d.get("sequence")
            cursor = max(cursor, group_end)
        start_day = (own - base).days if own is not None and base is not None else cursor
        dose, unit = dose_of(d)
        seg = _segment(timing, repeat, dose, unit, start_day, base)
        bp_end = as_date(_obj(repeat.get("boundsPeriod")).get("end"))
        if bp_end is not None:
            end = bp_end if end is None else max(end, bp_end)
        if seg is None:
            continue
        segments.append(seg)
        span = segments_span((seg,))
        group_end = max(group_end, span if span is not None else 10 ** 6)
    segs = tuple(segments)
    first = segs[0] if segs else None
    open_ended = any(s.open_ended for s in segs)
    return TimingRead(
        segments=segs,
        start=base,
        end=end,
        # daily dosing is a frequency, not a cycle
        cycle_length_days=first.period_days if first and first.period_days and not first.event_days
        and (first.period_days, first.days) != (1, (1,)) else None,
        administration_days=(tuple(d + 1 for d in first.event_days) if first.event_days else first.days)
        if first else (),
        cycles=_cycles(first),
        frequency_per_day=first.times_per_day if first else None,
        open_ended=open_ended,
    )


def _obj(v) -> dict:
    return v if isinstance(v, dict) else {}


def _arr(v) -> list:
    return v if isinstance(v, list) else []


# Anything beyond this is not a treatment schedule: read as absent, so that a malformed or
# hostile number (period 1e400, count 10^9) can neither overflow nor expand without end.
MAX_NUMBER = 100000


def _num(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) and 0 < f <= MAX_NUMBER else None


def _cycles(seg: DoseSegment | None) -> int | None:
    if seg is None:
        return None
    if seg.event_days:
        return 1 if len(seg.event_days) == 1 else None
    if seg.repeats is not None:
        return seg.repeats
    if seg.max_days is not None and seg.period_days:
        return math.ceil(seg.max_days / seg.period_days)
    return None


def unit_days(unit: str | None) -> float | None:
    """UCUM unit of time -> days (mo = 30.4375 d, a = 365.25 d)."""
    if not unit:
        return None
    value = table("medication")["period_unit_days"].get(unit)
    return float(value) if value is not None else None


def _segment(timing: dict, repeat: dict, dose, unit, start_day: int, base: date | None) -> DoseSegment | None:
    if not timing:
        return None
    if timing.get("event"):
        events = sorted(e for e in (as_date(x) for x in _arr(timing.get("event"))) if e is not None)
        if not events:
            return None
        origin = base or events[0]
        return DoseSegment(start_day=0, dose=dose, dose_unit=unit,
                           event_days=tuple((e - origin).days for e in events),
                           times_per_day=_times_of_day(repeat))
    if not repeat:
        return None
    cycle_days = _days_of_cycle(timing, repeat)
    period = _period_days(repeat)
    frequency = int(_num(repeat.get("frequency")) or 1)
    count = _num(repeat.get("count"))
    count = int(count) if count is not None else None
    times = _times_of_day(repeat)
    max_days = _bounds_days(repeat)
    if cycle_days:
        # CodeX MOPA: period = the cycle, days = its administration days, count = cycles.
        cycle = int(round(period)) if period else max(cycle_days)
        if frequency > len(cycle_days) and frequency % len(cycle_days) == 0:
            times = max(times, frequency // len(cycle_days))
        return DoseSegment(start_day, cycle, cycle_days, times, count, dose, unit, max_days=max_days)
    if period is None:
        # frequency without a period, or a bare count: `count` administrations, one a day
        return DoseSegment(start_day, 1, (1,), times, count if count is not None else 1, dose, unit,
                           max_days=max_days)
    if period < 1:
        # sub-daily period (e.g. every 12 h): administrations per day
        per_day = max(1, int(round(frequency / period)))
        period_days, days = 1, (1,)
        times = max(times, per_day)
    elif repeat.get("dayOfWeek"):
        period_days = int(round(period)) if period % 7 == 0 else 7
        days = _weekdays(_arr(repeat.get("dayOfWeek")), base, start_day)
    elif int(round(period)) == 1:
        period_days, days = 1, (1,)
        times = max(times, frequency)
    else:
        period_days = int(round(period))
        step = period_days / frequency
        days = tuple(sorted({int(math.floor(i * step)) + 1 for i in range(frequency)}))
    repeats = None
    if count is not None:
        # `count` = total administrations: the days needed to give them.
        per_period = len(days) * times
        repeats = math.ceil(count / per_period)
        if count % per_period:
            # a partial last period: bound the calendar at the last administration day
            admin_days_needed = math.ceil(count / times)
            full, rest = divmod(admin_days_needed, len(days))
            last_day = (full * period_days + days[rest - 1]) if rest else ((full - 1) * period_days + days[-1])
            max_days = min(max_days, last_day) if max_days else last_day
    return DoseSegment(start_day, period_days, days, times, repeats, dose, unit, max_days=max_days)


def _period_days(repeat: dict) -> float | None:
    period = _num(repeat.get("period"))
    if period is None:
        return None
    per_unit = unit_days(repeat.get("periodUnit") or "d")
    return period * per_unit if per_unit is not None else None


def _bounds_days(repeat: dict) -> int | None:
    bd = _obj(repeat.get("boundsDuration"))
    value = _num(bd.get("value"))
    if value is not None:
        per_unit = unit_days(bd.get("code") or bd.get("unit"))
        if per_unit is not None:
            return max(1, int(round(value * per_unit)))
    bp = _obj(repeat.get("boundsPeriod"))
    start, end = as_date(bp.get("start")), as_date(bp.get("end"))
    if start is not None and end is not None:
        return (end - start).days + 1
    return None


def _times_of_day(repeat: dict) -> int:
    return max(1, len(_arr(repeat.get("when"))) or len(_arr(repeat.get("timeOfDay"))))


_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _weekdays(codes, base: date | None, start_day: int) -> tuple[int, ...]:
    start_wd = ((base.weekday() + start_day) % 7) if base is not None else 0
    return tuple(sorted({(_WEEKDAYS[c] - start_wd) % 7 + 1 for c in codes if c in _WEEKDAYS})) or (1,)


def _days_of_cycle(timing: dict, repeat: dict) -> tuple[int, ...]:
    urls = table("medication")["days_of_cycle_extensions"]
    days: set[int] = set()
    for holder in (timing, repeat):
        for ext in _arr(holder.get("extension")):
            if isinstance(ext, dict) and ext.get("url") in urls:
                for sub in _arr(ext.get("extension")):
                    if isinstance(sub, dict) and sub.get("url") == "day":
                        day = sub.get("valueInteger")
                        if isinstance(day, int) and not isinstance(day, bool) and day >= 1:
                            days.add(day)
    return tuple(sorted(days))


# --- sequencing between drugs: RequestGroup.action.relatedAction --------------------------------

# RequestGroup.action.relatedAction.relationship (R4 action-relationship-type): this action
# starts relative to the related one. Only the relations that fix a start are used.
_AFTER_END = {"after-end", "after"}
_WITH_START = {"after-start", "concurrent-with-start", "concurrent"}


def related_action_starts(groups: list[dict], lines) -> dict[str, date]:
    """New start dates for drug lines that a RequestGroup (CodeX MOPA AntiCancerRegimen style)
    sequences after another: `relatedAction {actionId, relationship: after-end, offsetDuration}`
    on AC's action puts AC after the end of paclitaxel's calendar. Raw JSON, read cheaply; a line
    whose own date is already later keeps it. Returns {line ref: start}."""
    by_ref = {l.ref: l for l in lines}
    starts_known = [l.start for l in lines if l.start is not None]
    if not groups or not starts_known:
        return {}
    base = min(starts_known)
    actions: dict[str, str] = {}
    relations: list[tuple[str, str, str, int]] = []

    def walk(acts):
        for a in acts if isinstance(acts, list) else []:
            if not isinstance(a, dict):
                continue
            ref = obj(a.get("resource")).get("reference")
            ref = "/".join(ref.rstrip("/").split("/")[-2:]) if isinstance(ref, str) else None
            if isinstance(a.get("id"), str) and ref in by_ref:
                actions[a["id"]] = ref
            for r in a.get("relatedAction") if isinstance(a.get("relatedAction"), list) else []:
                r = obj(r)
                off = obj(r.get("offsetDuration"))
                per = unit_days(off.get("code") or off.get("unit")) if off else None
                value = _num(off.get("value"))
                days = int(round(value * per)) if per and value is not None and value * per <= MAX_NUMBER else 0
                if isinstance(a.get("id"), str) and isinstance(r.get("actionId"), str):
                    relations.append((a["id"], r["actionId"], r.get("relationship"), days))
            walk(a.get("action"))

    for g in groups:
        walk(obj(g).get("action"))
    starts = {ref: (line.start or base) for ref, line in by_ref.items()}
    for _ in range(len(relations)):
        moved = False
        for this, other, relation, offset in relations:
            if this not in actions or other not in actions:
                continue
            mine, theirs = actions[this], actions[other]
            if relation in _AFTER_END:
                span = segments_span(by_ref[theirs].segments)
                if span is None:
                    continue
                want = starts[theirs] + timedelta(days=span + offset)
            elif relation in _WITH_START:
                want = starts[theirs] + timedelta(days=offset)
            else:
                continue
            if starts[mine] < want:
                starts[mine] = want
                moved = True
        if not moved:
            break
    return {ref: d for ref, d in starts.items() if d != by_ref[ref].start}
