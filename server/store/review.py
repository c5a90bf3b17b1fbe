"""ReviewStore: a thin facade over the review workflow's repositories, one module per concern.

It shares the CaseStore's engine (same database, same migrations) and adds, without changing
the CaseStore API:

- `reviewers.py`      — reviewer accounts and bearer tokens (`ReviewerAccounts`);
- `review_actions.py` — review actions and `apply_review`, the unit of work of one reviewer
                        action (revision check, action, status/decision/response, event, audit,
                        outbox notifications: one transaction) (`ReviewActions`);
- `subscriptions.py`  — PAS Subscriptions (`Subscriptions`);
- `outbox.py`         — the notification outbox and its delivery attempts (`Outbox`);
- `reporting.py`      — read-only queries: the queue, a metrics period, overdue cases (`ReviewReports`).

`ReviewStore(cases)` holds one of each (`.accounts`, `.actions`, `.subscriptions`, `.outbox`,
`.reports`) and answers their methods under the names callers have always used
(`reviews.add_reviewer(...)`, `reviews.apply_review(...)`, ...); new code may take the part it needs.
"""
from __future__ import annotations

from server.store.outbox import Delivery, Notification, Outbox
from server.store.reporting import ReviewReports
from server.store.review_actions import ReviewAction, ReviewActions, latest_request_bundle
from server.store.reviewers import Reviewer, ReviewerAccounts
from server.store.service import CaseStore
from server.store.subscriptions import Subscriptions

__all__ = ["ReviewStore", "Reviewer", "ReviewAction", "Notification", "Delivery", "latest_request_bundle"]


def _forward(part: str, name: str) -> property:
    return property(lambda self: getattr(getattr(self, part), name),
                    doc=f"`{part}.{name}` (see that module)")


class ReviewStore:
    def __init__(self, cases: CaseStore):
        self.cases = cases
        self.accounts = ReviewerAccounts(cases)
        self.actions = ReviewActions(cases)
        self.subscriptions = Subscriptions(cases)
        self.outbox = Outbox(cases)
        self.reports = ReviewReports(cases)

    # reviewer accounts and tokens
    add_reviewer = _forward("accounts", "add_reviewer")
    set_password = _forward("accounts", "set_password")
    reviewer_by_username = _forward("accounts", "reviewer_by_username")
    reviewer_by_id = _forward("accounts", "reviewer_by_id")
    add_token = _forward("accounts", "add_token")
    reviewer_for_token = _forward("accounts", "reviewer_for_token")
    # review actions and the apply_review unit of work
    review_actions = _forward("actions", "review_actions")
    actions_for = _forward("actions", "actions_for")
    record_action = _forward("actions", "record_action")
    apply_review = _forward("actions", "apply_review")
    # subscriptions
    add_subscription = _forward("subscriptions", "add_subscription")
    get_subscription = _forward("subscriptions", "get_subscription")
    delete_subscription = _forward("subscriptions", "delete_subscription")
    # the outbox
    claim_due_notifications = _forward("outbox", "claim_due_notifications")
    record_attempt = _forward("outbox", "record_attempt")
    notifications_for = _forward("outbox", "notifications_for")
    deliveries_for = _forward("outbox", "deliveries_for")
    # reporting
    pended_cases = _forward("reports", "pended_cases")
    cases_received_between = _forward("reports", "cases_received_between")
    overdue_cases = _forward("reports", "overdue_cases")
