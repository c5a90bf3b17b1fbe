"""Administration calendars: when each dose of a drug is given, and how much.

An order's timing is kept compact (`DoseSegment`: one dosage instruction as read) and expanded
into `Administration`s on demand, so a stored order stays small whatever its length. The
knowledge base's regimens expand into the same `Administration`s (server/engine/regimens.py),
and the engine compares the two calendars, never the fields that encoded them: weekly
paclitaxel x 12 and "days 1, 8, 15 of a 21-day cycle x 4" are one calendar.

Plain dataclasses and arithmetic: no FHIR, Flask or SQL here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

# R15/R16: an open-ended (until progression) schedule is authorized 6 months at a time; the
# calendar is expanded a little beyond that so every window the rules cut from it is full.
OPEN_HORIZON_DAYS = 200
# No treatment calendar is expanded beyond five years, whatever an order's count says.
MAX_CALENDAR_DAYS = 5 * 366


@dataclass(frozen=True)
class DoseSegment:
    """One dosage instruction as the order states it: a repeating block of administration days.

    Day numbers are 1-based within the period; `start_day` is the 0-based offset of the
    segment's first period from the drug line's start. `repeats` None = open-ended.
    `event_days` (0-based offsets) replace the pattern when the order lists explicit dates."""
    start_day: int = 0
    period_days: int | None = None          # length of one repeat (the cycle); None = no repeat
    days: tuple[int, ...] = (1,)             # administration days within each period
    times_per_day: int = 1                   # administrations on each administration day
    repeats: int | None = 1                  # number of periods; None = until progression / open
    dose: float | None = None
    dose_unit: str | None = None
    event_days: tuple[int, ...] = ()
    max_days: int | None = None              # boundsDuration / boundsPeriod: last day offset + 1

    @property
    def open_ended(self) -> bool:
        return not self.event_days and self.repeats is None and self.max_days is None


@dataclass(frozen=True)
class Administration:
    day: int                     # 0-based day offset from the start of the calendar
    dose: float | None = None
    dose_unit: str | None = None
    times: int = 1               # administrations that day (twice daily = 2)
    phase: int = 0               # index of the regimen phase it belongs to (knowledge base side)


@lru_cache(maxsize=4096)
def expand_segments(segments: tuple[DoseSegment, ...], horizon: int = OPEN_HORIZON_DAYS) -> tuple[Administration, ...]:
    """Every administration of the segments, by day (a day given twice keeps the later segment).
    Pure and immutable, so memoized: orders repeat the same few schedules (hot path)."""
    by_day: dict[int, Administration] = {}
    for seg in segments:
        for a in _expand(seg, horizon):
            by_day[a.day] = a
    return tuple(by_day[d] for d in sorted(by_day))


def _expand(seg: DoseSegment, horizon: int):
    if seg.event_days:
        for d in seg.event_days:
            yield Administration(seg.start_day + d, seg.dose, seg.dose_unit, seg.times_per_day)
        return
    period = seg.period_days or (max(seg.days) if seg.days else 1)
    # a counted or bounded segment is expanded whole; an open-ended one up to the horizon
    if seg.max_days is not None:
        limit = seg.start_day + seg.max_days
    elif seg.repeats is not None:
        limit = seg.start_day + seg.repeats * period
    else:
        limit = seg.start_day + horizon
    limit = min(limit, seg.start_day + MAX_CALENDAR_DAYS)
    repeats = min(seg.repeats if seg.repeats is not None else math.inf,
                  math.ceil((limit - seg.start_day) / period) + 1)
    dose, unit, times = seg.dose, seg.dose_unit, seg.times_per_day
    offsets = [d - 1 for d in seg.days]
    for k in range(int(repeats)):
        base = seg.start_day + k * period
        if base >= limit:
            break
        for off in offsets:
            day = base + off
            if day >= limit:
                break
            yield Administration(day, dose, unit, times)


def segments_span(segments: tuple[DoseSegment, ...]) -> int | None:
    """Days from the line start to the end of its last segment; None when open-ended."""
    end = 0
    for seg in segments:
        if seg.open_ended:
            return None
        if seg.event_days:
            end = max(end, seg.start_day + max(seg.event_days) + 1)
            continue
        period = seg.period_days or (max(seg.days) if seg.days else 1)
        length = (seg.repeats or 1) * period
        if seg.max_days is not None:
            length = min(length, seg.max_days) if seg.repeats is not None else seg.max_days
        end = max(end, seg.start_day + length)
    return end


# --- describing a calendar in a clinician's words ---------------------------------------------

@dataclass(frozen=True)
class Pattern:
    period: int | None           # days between repeats of the pattern; None = no repeat
    days: tuple[int, ...]        # 1-based administration days within the period
    repeats: int                 # periods covered (the last may be partial)
    times: int                   # administrations per administration day
    count: int                   # administration days


def pattern_of(admins: tuple[Administration, ...] | list[Administration]) -> Pattern | None:
    """The shortest repeating block that generates the administration days."""
    if not admins:
        return None
    first = admins[0].day
    rel = [a.day - first for a in admins]
    times = max(a.times for a in admins)
    if len(rel) == 1:
        return Pattern(None, (1,), 1, times, 1)
    wanted = set(rel)
    last = rel[-1]
    for period in sorted({r for r in rel if r > 0}):
        block = [r for r in rel if r < period]
        n = last // period + 1
        generated = {b + k * period for k in range(n) for b in block if b + k * period <= last}
        if generated == wanted:
            return Pattern(period, tuple(b + 1 for b in block), n, times, len(rel))
    return Pattern(None, tuple(r + 1 for r in rel), 1, times, len(rel))


def describe_pattern(p: Pattern | None, open_ended: bool = False) -> str:
    if p is None:
        return "no administration"
    per_day = {1: "", 2: " twice a day", 3: " three times a day"}.get(p.times, f" {p.times} times a day")
    if p.period is None:
        if p.count == 1:
            return f"once{per_day}"
        return f"on days {_days(p.days)}{per_day}"
    if len(p.days) == 1:
        what = "daily" if p.period == 1 else f"every {p.period} days"
    elif p.days == tuple(range(1, p.days[-1] + 1)):
        what = f"days 1-{p.days[-1]} of every {p.period} days"
    else:
        what = f"days {_days(p.days)} of every {p.period} days"
    how_long = " until progression" if open_ended else (
        f" x {p.count}" if len(p.days) == 1 else f" x {p.repeats} cycles")
    return what + per_day + how_long


def _days(days) -> str:
    return ", ".join(str(d) for d in days)
