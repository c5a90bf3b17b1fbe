"""R10 turnaround for pended cases: due-by, overdue, physician escalation.

The engine sets due-by when it pends a case (urgent 24 h; standard 3 business days; never
past 72 h / 7 calendar days). A case past due is flagged for a physician reviewer in the queue
as soon as it is overdue (computed on read: showing the queue writes nothing), and the deadline
sweep (`sweep_overdue`) records the escalation: one `escalate` review action by the system and
its audit row, the first time the case is found overdue (again after a reconsideration
reopens it). The sweep runs on the notification worker's tick (once a minute) and as
`oncopath sweep-overdue`. The clock never denies.
"""
from __future__ import annotations

from datetime import datetime

from server.review.workflow import Action, Role, fold

IN_PROGRESS = "In Progress"


def is_overdue(due_by: datetime | None, now: datetime) -> bool:
    return due_by is not None and now > due_by


def needs_escalation(due_by: datetime | None, now: datetime, already_escalated: bool) -> bool:
    return is_overdue(due_by, now) and not already_escalated


def queue_key(*, due_by: datetime | None, urgent: bool, received_at: datetime, now: datetime):
    """Overdue first, then urgent, then the earliest due (oldest received breaks ties)."""
    far = datetime.max.replace(tzinfo=received_at.tzinfo)
    return (0 if is_overdue(due_by, now) else 1, 0 if urgent else 1, due_by or far, received_at)


def sweep_overdue(reviews, now: datetime) -> list[str]:
    """Escalate every pended case past due at `now` that is not escalated yet; returns their
    Order IDs. `reviews` is the ReviewStore (overdue_cases, actions_for, record_action). Safe
    to run from several processes at once: whether the case still needs it is checked again
    under the case's row lock, so each escalation is recorded once."""
    overdue = reviews.overdue_cases(now)
    on_file = reviews.actions_for(order_id for order_id, _ in overdue)
    escalated = []
    for order_id, due_by in overdue:
        if fold(IN_PROGRESS, on_file[order_id]).escalated:
            continue

        def still_needed(case, actions) -> bool:
            return case.status == IN_PROGRESS and needs_escalation(case.due_by, now,
                                                                   fold(case.status, actions).escalated)
        if reviews.record_action(order_id, actor="system", role=Role.SYSTEM.value, action=Action.ESCALATE.value,
                                 now=now, only_if=still_needed,
                                 detail={"due_by": due_by.isoformat(), "to": "physician",
                                         "text": "decision overdue: escalated to a physician reviewer"}):
            escalated.append(order_id)
    return escalated
