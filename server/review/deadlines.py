"""R10 turnaround for pended cases: due-by, overdue, physician escalation.

The engine sets due-by when it pends a case (urgent 24 h; standard 3 business days; never
past 72 h / 7 calendar days). A case past due is escalated to a physician reviewer (a flag in
the queue and one audit row the first time it is seen overdue); the clock never denies.
"""
from __future__ import annotations

from datetime import datetime


def is_overdue(due_by: datetime | None, now: datetime) -> bool:
    return due_by is not None and now > due_by


def needs_escalation(due_by: datetime | None, now: datetime, already_escalated: bool) -> bool:
    return is_overdue(due_by, now) and not already_escalated


def queue_key(*, due_by: datetime | None, urgent: bool, received_at: datetime, now: datetime):
    """Overdue first, then urgent, then the earliest due (oldest received breaks ties)."""
    far = datetime.max.replace(tzinfo=received_at.tzinfo)
    return (0 if is_overdue(due_by, now) else 1, 0 if urgent else 1, due_by or far, received_at)
