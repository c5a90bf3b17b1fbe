"""Clinical review of pended cases: the workflow's domain (no Flask in here).

- `workflow.py`  — the review state machine: which action is allowed in which state, by whom
  (nurse or physician), folded from the case status and its review actions. Pure.
- `deadlines.py` — R10 due-by, overdue cases and physician escalation (never a denial by the clock).
- `accounts.py`  — reviewer passwords (scrypt + salt) and opaque bearer tokens.
- `service.py`   — ReviewService: sign-in, the queue, the case view and the case's current PAS
  response; a reviewer's action itself is a case use case (`server/cases/review_actions.py`),
  whose Decision changes are engine transitions (`server/engine/transitions.py`) and whose
  response is rendered by `mappings/pas_reviewed.py`.
- `metrics.py`   — CMS-0057-F program metrics.
"""
