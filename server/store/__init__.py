"""The durable case store: SQLAlchemy 2.0 repository + unit of work, SQLite or PostgreSQL.

Wiring: `server.store.extension.init_app(app)` reads `DATABASE_URL` (`sqlite:///path` is the
default, WAL + busy_timeout, parent directory created; `sqlite://` is in-memory;
`postgresql://…` is rewritten to `postgresql+psycopg://…`), runs the Alembic migrations
(`migrations/`, table `alembic_version`) and puts a `CaseStore` at
`app.extensions["oncopath.store"]` (`extension.get_store()` inside a request).

Tables: `cases` (one per regimen request; Order ID `ONC-` + 10 characters; `request_key`
UNIQUE for idempotency), `case_events` (status history; update/cancel requests keep their own
request key and response here), `audit` (every change: who, when, action, before/after),
`feedback` (CDS Hooks feedback), `alembic_version`.

CaseStore API (all methods are one transaction each; nothing is half-written):

- `find_case_by_request_key(key) -> CaseRecord | None` — the case a request key belongs to,
  with the response that request was given (the original answer even if the case changed
  since; `get_case` gives the current one). Request keys are opaque strings chosen by the
  caller: PAS uses `"pas|<Claim.identifier system>|<value>"`, CDS Hooks the hookInstance.
- `save_case(*, source, request_key, order, decision, raw_request, render_response, actor="system",
  provider_npi=None) -> CaseRecord` — store a new case; `render_response(order_id) -> dict` renders the answer
  with the Order ID just allocated. Idempotent: if `request_key` is on file (also when a
  concurrent writer wins the race; the unique violation is caught) the existing record comes
  back unchanged with `created=False`; a fresh one has `created=True`.
- `update_case(order_id, *, request_key, order, decision, raw_request, render_response,
  kind="updated", actor, note) -> CaseRecord` — a new decision for the whole case (PAS
  update/cancel), idempotent on the update's own key.
- `get_case(order_id) -> CaseRecord | None`; `case_events(order_id)`; `audit_trail(order_id)`.
- `cases_for_inquiry(member_id(s), provider_npi, payer_id(s)=None, identifiers=None)
  -> list[CaseRecord]` — only the cases that NPI submitted.
- `history_for_member(member_id, *, exclude_order_id=None) -> History` — PriorCase rows for
  R7/R8/R15 (drug keys, dates, regimen, S0353 date).
- `update_case_status(order_id, status, *, actor, note=None, decision=None, response=None)`.
- `record_feedback(service_id, rows: list[dict], *, actor="cds-client") -> int`;
  `feedback_for(service_id)`.
- `counts() -> {table: rows}`.

`CaseRecord` carries plain JSON (`order`, `decision`, `response`, `raw_request`);
`record.order_obj()` / `record.decision_obj()` give the domain objects back
(`serialize.py`, through the domain codec `server/domain/codec.py`).
"""
from server.store.service import CaseEvent, CaseRecord, CaseStore, new_order_id

__all__ = ["CaseStore", "CaseRecord", "CaseEvent", "new_order_id"]
