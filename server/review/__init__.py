"""Clinical review of pended cases: the workflow's domain (no Flask in here).

- `workflow.py`  — the review state machine: which action is allowed in which state, by whom
  (nurse or physician), folded from the case status and its review actions. Pure.
- `deadlines.py` — R10 due-by, overdue cases and physician escalation (never a denial by the clock).
- `decisions.py` — what an approval / denial / duplicate cancel / reconsideration does to the
  Decision (drug statuses, case status R17, Pathway Eligible ID, S-codes R15, figures R16),
  reusing the engine's own functions.
- `render.py`    — the PAS response Bundle of a reviewed case (A1/A3/A4/A6/C/NA), also for a
  case that came through CDS Hooks (no PAS request on file).
- `accounts.py`  — reviewer passwords (scrypt + salt) and opaque bearer tokens.
- `service.py`   — ReviewService: ties store, workflow, decisions, rendering and notifications.
- `metrics.py`   — CMS-0057-F program metrics.
"""
