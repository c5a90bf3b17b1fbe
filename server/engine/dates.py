"""Date arithmetic the program rules need: business days (Mon–Fri) and calendar months."""
from __future__ import annotations

import calendar as _cal  # stdlib
from datetime import date, datetime, timedelta


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def business_days_after(start: date, end: date) -> int:
    """Business days in (start, end]: how far `end` lies after `start` in working days."""
    if end <= start:
        return 0
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if is_business_day(start + timedelta(days=weeks * 7 + offset)):
            count += 1
    return count


def add_business_days(moment: datetime, days: int) -> datetime:
    out = moment
    added = 0
    while added < days:
        out += timedelta(days=1)
        if is_business_day(out):
            added += 1
    return out


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, _cal.monthrange(year, month)[1]))


def whole_months(start: date, end: date) -> int:
    """Whole calendar months that fit in the inclusive window [start, end]."""
    months = 0
    while add_months(start, months + 1) <= end + timedelta(days=1):
        months += 1
    return months
