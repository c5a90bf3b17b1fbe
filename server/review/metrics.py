"""CMS-0057-F prior-authorization metrics for a period (cases received in it).

Per the rule's public-reporting list: approved, denied, approved after appeal (here: after a
reconsideration, R11), and average and median decision time — for standard and expedited
(urgent) requests, in total and per calendar month. A case counts once, in its final state:
- approved: Authorized or Multiple Decisions Rendered (therapeutic drugs authorized);
- denied: Non-Authorized;
- pending: still In Progress; other: Completed (nothing of the program's to authorize) or
  Review Cancelled.
Decision time: from receipt to the decision that settled the case (the engine's answer at
receipt, or the reviewer's last approve/deny), in hours.
"""
from __future__ import annotations

import csv
import io
import statistics
from datetime import date, datetime, time, timedelta, timezone

APPROVED = {"Authorized", "Multiple Decisions Rendered"}
DENIED = {"Non-Authorized"}


def _bucket() -> dict:
    return {"requests": 0, "approved": 0, "denied": 0, "approvedAfterAppeal": 0, "pending": 0, "other": 0,
            "_hours": []}


def _finish(b: dict) -> dict:
    hours = b.pop("_hours")
    decided = b["approved"] + b["denied"]
    b["approvedPercent"] = round(100 * b["approved"] / decided, 1) if decided else None
    b["deniedPercent"] = round(100 * b["denied"] / decided, 1) if decided else None
    b["averageDecisionHours"] = round(sum(hours) / len(hours), 2) if hours else None
    b["medianDecisionHours"] = round(statistics.median(hours), 2) if hours else None
    return b


def classify(record, actions) -> tuple[str, float | None, bool]:
    """(outcome, decision hours or None, reconsidered) of one case."""
    status = record.status
    reconsidered = any(a.action == "reconsideration" for a in actions)
    decisive = [a for a in actions if a.action in ("approve", "deny")]
    if status in APPROVED or status in DENIED:
        decided_at = decisive[-1].at if decisive else record.received_at
        hours = max((decided_at - record.received_at).total_seconds(), 0) / 3600
        return ("approved" if status in APPROVED else "denied"), hours, reconsidered
    if status == "In Progress":
        return "pending", None, reconsidered
    return "other", None, reconsidered


def compute(service, start: date, end: date) -> dict:
    """Metrics for cases received from `start` to `end` (inclusive days, UTC)."""
    t0 = datetime.combine(start, time.min, tzinfo=timezone.utc)
    t1 = datetime.combine(end + timedelta(days=1), time.min, tzinfo=timezone.utc)
    records = service.reviews.cases_received_between(t0, t1)
    actions = service.reviews.actions_for(r.order_id for r in records)
    total = {"standard": _bucket(), "expedited": _bucket()}
    months: dict[str, dict] = {}
    for rec in records:
        kind = "expedited" if (rec.order or {}).get("urgency") == "urgent" else "standard"
        outcome, hours, reconsidered = classify(rec, actions[rec.order_id])
        month = rec.received_at.strftime("%Y-%m")
        months.setdefault(month, {"standard": _bucket(), "expedited": _bucket()})
        for b in (total[kind], months[month][kind]):
            b["requests"] += 1
            b[outcome] += 1
            if outcome == "approved" and reconsidered:
                b["approvedAfterAppeal"] += 1
            if hours is not None:
                b["_hours"].append(hours)
    return {"from": start.isoformat(), "to": end.isoformat(),
            "total": {k: _finish(v) for k, v in total.items()},
            "months": [{"month": m, **{k: _finish(v) for k, v in kinds.items()}} for m, kinds in sorted(months.items())]}


CSV_FIELDS = ["period", "type", "requests", "approved", "denied", "approvedAfterAppeal", "pending", "other",
              "approvedPercent", "deniedPercent", "averageDecisionHours", "medianDecisionHours"]


def to_csv(report: dict) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    rows = [(f"{report['from']}..{report['to']}", report["total"])] + [(m["month"], m) for m in report["months"]]
    for period, kinds in rows:
        for kind in ("standard", "expedited"):
            b = kinds[kind]
            w.writerow([period, kind] + ["" if b[f] is None else b[f] for f in CSV_FIELDS[2:]])
    return out.getvalue()
