"""CaseStore: the store's public API (see server/store/__init__.py for the contract)."""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import sessionmaker

from server.domain.decision import CaseStatus, Decision
from server.domain.history import history_facts
from server.domain.order import History, Order, PriorCase, ehr_order_refs
from server.errors import NotFound
from server.store import serialize
from server.store.db import READ_ONLY, EncodedJSON, make_engine
from server.store.migrations import migrate
from server.store.models import AuditRow, CaseEventRow, CaseRow, FeedbackRow
from server.store.repository import UnitOfWork, utcnow

ORDER_ID_PREFIX = "ONC-"
# Crockford-like alphabet: no 0/O, 1/I/L confusion when read over the phone.
_ORDER_ID_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
# save_case's Core statements (compiled once, cached by SQLAlchemy).
_INSERT_CASE = CaseRow.__table__.insert()
_INSERT_EVENT = CaseEventRow.__table__.insert()
_INSERT_AUDIT = AuditRow.__table__.insert()
# Is a request key on file, as a case's or an update's? One round trip.
_REQUEST_KEY_KNOWN = (select(CaseRow.order_id).where(CaseRow.request_key == bindparam("key"))
                      .union_all(select(CaseEventRow.order_id).where(CaseEventRow.request_key == bindparam("key"))))
# What a PriorCase needs of a member's earlier cases: not their request, decision and response JSON.
_MEMBER_HISTORY = (select(CaseRow.order_id, CaseRow.request_key, CaseRow.order, CaseRow.status,
                          CaseRow.drug_keys, CaseRow.start_date, CaseRow.end_date, CaseRow.regimen_id,
                          CaseRow.s0353_awarded_on, CaseRow.provider_npi)
                   .where(CaseRow.member_id == bindparam("member_id")).order_by(CaseRow.received_at))


def _history_and_key_statement():
    """A member's history (as _MEMBER_HISTORY) and whether a request key is on file, in one
    statement: history rows tagged 'h', then a row tagged 'k' per case or update with that key."""
    from sqlalchemy import literal_column, null, union_all

    cols = _MEMBER_HISTORY.selected_columns
    history = (select(literal_column("'h'").label("kind"), CaseRow.received_at, *cols)
               .where(CaseRow.member_id == bindparam("member_id")))
    blanks = [null().label(c.name) for c in cols[1:]]
    key_as_case = select(literal_column("'k'"), null(), CaseRow.order_id, *blanks).where(CaseRow.request_key == bindparam("key"))
    key_as_update = (select(literal_column("'k'"), null(), CaseEventRow.order_id, *blanks)
                     .where(CaseEventRow.request_key == bindparam("key")))
    both = union_all(history, key_as_case, key_as_update).subquery()
    return select(both).order_by(both.c.kind, both.c.received_at)


_HISTORY_AND_KEY = _history_and_key_statement()


def once_more_if_disconnected(call: Callable[[], Any]) -> Any:
    """The hot path's database calls, made once more if their connection was dead. PostgreSQL
    runs without `pool_pre_ping` (a round trip on every checkout, three per request): a pooled
    connection the server dropped (restart, idle timeout) fails its first statement instead,
    SQLAlchemy invalidates the pool, and the call is repeated on a fresh connection. Safe for
    save_case too: it is idempotent on the request key (a commit that did land is found)."""
    try:
        return call()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return call()


def new_order_id() -> str:
    return ORDER_ID_PREFIX + "".join(secrets.choice(_ORDER_ID_ALPHABET) for _ in range(10))


def _utc(dt: datetime | None) -> datetime | None:
    """Store UTC; SQLite gives naive datetimes back, which are UTC by construction."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


@dataclass(frozen=True)
class CaseRecord:
    order_id: str
    source: str
    request_key: str
    member_id: str | None
    provider_npi: str | None
    payer_id: str | None
    status: str
    received_at: datetime
    due_by: datetime | None
    updated_at: datetime
    raw_request: Any
    order: dict
    decision: dict
    response: Any
    kb_version: str | None
    revision: int
    created: bool = False      # True only in the answer of the save_case call that wrote it

    def order_obj(self) -> Order:
        return serialize.order_from_dict(self.order)

    def decision_obj(self) -> Decision:
        return serialize.decision_from_dict(self.decision)

    @classmethod
    def of(cls, row: CaseRow, **overrides) -> "CaseRecord":
        rec = cls(order_id=row.order_id, source=row.source, request_key=row.request_key,
                  member_id=row.member_id, provider_npi=row.provider_npi, payer_id=row.payer_id,
                  status=row.status, received_at=_utc(row.received_at), due_by=_utc(row.due_by),
                  updated_at=_utc(row.updated_at), raw_request=row.raw_request, order=row.order,
                  decision=row.decision, response=row.response, kb_version=row.kb_version,
                  revision=row.revision)
        return replace(rec, **overrides) if overrides else rec


# The CaseRecord fields a new case row fills (all but `created`).
_RECORD_FIELDS = tuple(f for f in CaseRecord.__dataclass_fields__ if f != "created")


@dataclass(frozen=True)
class CaseEvent:
    at: datetime
    kind: str
    status: str
    actor: str
    note: str | None
    request_key: str | None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any


def _history_columns(order: Order, decision: Decision) -> dict:
    return history_facts(order, decision).columns()


def _summary(decision: Decision) -> dict:
    """What the audit keeps of a decision: statuses, not clinical detail."""
    return {"status": decision.case_status.value, "kb_version": decision.kb_version,
            "drugs": {d.ref: d.status.value for d in decision.drugs}}


def _created_event(values: dict, actor: str, note: str) -> dict:
    return {"order_id": values["order_id"], "at": values["updated_at"], "kind": "created",
            "status": values["status"], "actor": actor, "note": note,
            "request_key": None, "raw_request": None, "response": None}


def _create_audit(values: dict, actor: str, decision: Decision) -> dict:
    return {"at": utcnow(), "actor": actor, "action": "case.create", "entity": "case",
            "entity_id": values["order_id"], "before": None, "after": _summary(decision)}


_ONE_STATEMENT: dict[int, Any] = {}


def _one_statement_insert(engine: Engine):
    """INSERT case + event + audit as one PostgreSQL statement, unless the request key is on file
    (as a case's: ON CONFLICT; as an update's: NOT EXISTS). Parameters: c_*, e_*, a_* (typed by
    the columns, so JSON and timestamps are bound as the ORM would)."""
    from sqlalchemy import text

    stmt = _ONE_STATEMENT.get(id(engine.dialect))
    if stmt is not None:
        return stmt

    def columns(table, prefix, skip=("id",)):
        cols = [c for c in table.columns if c.name not in skip]
        names = ", ".join(f'"{c.name}"' for c in cols)
        binds = ", ".join(f"CAST(:{prefix}{c.name} AS {c.type.compile(dialect=engine.dialect)})" for c in cols)
        return cols, names, binds

    case_cols, case_names, case_binds = columns(CaseRow.__table__, "c_", skip=())
    event_cols, event_names, event_binds = columns(CaseEventRow.__table__, "e_")
    audit_cols, audit_names, audit_binds = columns(AuditRow.__table__, "a_")
    sql = (f"WITH new_case AS (INSERT INTO cases ({case_names}) SELECT {case_binds} "
           f"WHERE NOT EXISTS (SELECT 1 FROM case_events WHERE request_key = CAST(:c_request_key AS VARCHAR)) "
           f"ON CONFLICT (request_key) DO NOTHING RETURNING order_id), "
           f"new_event AS (INSERT INTO case_events ({event_names}) SELECT {event_binds} FROM new_case), "
           f"new_audit AS (INSERT INTO audit ({audit_names}) SELECT {audit_binds} FROM new_case) "
           f"SELECT order_id FROM new_case")
    binds = ([bindparam(f"c_{c.name}", type_=c.type) for c in case_cols]
             + [bindparam(f"e_{c.name}", type_=c.type) for c in event_cols]
             + [bindparam(f"a_{c.name}", type_=c.type) for c in audit_cols])
    stmt = text(sql).bindparams(*binds)
    _ONE_STATEMENT[id(engine.dialect)] = stmt
    return stmt


class CaseStore:
    def __init__(self, engine: Engine, *, order_ids: Callable[[], str] = new_order_id):
        self.engine = engine
        # PostgreSQL writes a new case in one statement (see _insert_new_case_in_one_statement).
        self._one_statement_writes = engine.dialect.name == "postgresql"
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(engine, expire_on_commit=False, execution_options={READ_ONLY: True})
        self._order_ids = order_ids

    @classmethod
    def from_url(cls, url: str, **kw) -> "CaseStore":
        store = cls(make_engine(url), **kw)
        store.migrate()
        return store

    def migrate(self) -> str:
        return migrate(self.engine)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A transaction. `read_only`: it only reads (on SQLite it then takes no write lock)."""
        return UnitOfWork(self._read_sessions if read_only else self._sessions)

    def _reader(self):
        """A connection for a one-statement read on the hot path. PostgreSQL: autocommit, which
        saves the BEGIN and ROLLBACK round trips (one SELECT sees one snapshot anyway; history
        reads 0.9-1.1 -> 0.5-0.6 ms). SQLite: a deferred transaction that takes no write lock."""
        conn = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            return conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn.execution_options(**{READ_ONLY: True})

    def dispose(self) -> None:
        self.engine.dispose()

    # -- reads ---------------------------------------------------------------------------

    def find_case_by_request_key(self, key: str) -> CaseRecord | None:
        """The case a request belongs to, with the response that request was given: the case's
        own request, or an update/cancel request recorded in its history."""
        # Hot path: nearly every key asked about is new. One Core round trip says so.
        if not once_more_if_disconnected(lambda: self._key_on_file(key)):
            return None
        with self.uow(read_only=True) as uow:
            return self._case_by_request_key(uow, key)

    @staticmethod
    def _case_by_request_key(uow: UnitOfWork, key: str) -> CaseRecord | None:
        row = uow.cases.by_request_key(key)
        if row is not None:
            if row.revision > 1:   # changed since: a replaced first answer is kept in its event
                created = next((e for e in uow.cases.events(row.order_id) if e.kind == "created"), None)
                if created is not None and created.response is not None:
                    return CaseRecord.of(row, response=created.response)
            return CaseRecord.of(row)
        event = uow.cases.event_by_request_key(key)
        if event is None:
            return None
        row = uow.cases.get(event.order_id)
        return CaseRecord.of(row, response=event.response, raw_request=event.raw_request)

    def _key_on_file(self, key: str) -> bool:
        """One round trip: is this request key a case's or an update's?"""
        with self._reader() as conn:
            return conn.execute(_REQUEST_KEY_KNOWN, {"key": key}).first() is not None

    def cases_with_identifier(self, key: str) -> list[CaseRecord]:
        """Every case created by a request whose key is `key`, or `key#<content>` when the same
        identifier was reused for a different request; oldest first."""
        with self.uow(read_only=True) as uow:
            return [CaseRecord.of(row) for row in uow.cases.with_request_key_prefix(key)]

    def get_case(self, order_id: str) -> CaseRecord | None:
        with self.uow(read_only=True) as uow:
            row = uow.cases.get(order_id)
            return CaseRecord.of(row) if row else None

    def case_events(self, order_id: str) -> list[CaseEvent]:
        with self.uow(read_only=True) as uow:
            return [CaseEvent(_utc(e.at), e.kind, e.status, e.actor, e.note, e.request_key)
                    for e in uow.cases.events(order_id)]

    def audit_trail(self, entity_id: str) -> list[AuditEntry]:
        with self.uow(read_only=True) as uow:
            return [AuditEntry(_utc(a.at), a.actor, a.action, a.entity, a.entity_id, a.before, a.after)
                    for a in uow.audit.for_entity(entity_id)]

    def cases_for_inquiry(self, member_id: str | Iterable[str], provider_npi: str,
                          payer_id: str | Iterable[str] | None = None,
                          identifiers: Iterable[str] | None = None) -> list[CaseRecord]:
        """Cases of this member submitted by this provider (NPI): nobody else's.

        `member_id` and `payer_id` may be several candidate identifiers (the inquiry may name
        the member by subscriber id or patient identifier). A case without a payer on file
        matches any payer. `identifiers` (Order IDs, e.g. from REF-BB/REF-NT) narrow the result
        when given."""
        members = {member_id} if isinstance(member_id, str) else set(member_id)
        payers = None if payer_id is None else ({payer_id} if isinstance(payer_id, str) else set(payer_id))
        wanted = set(identifiers or ())
        members.discard(None)
        if not members or not provider_npi:
            return []
        with self.uow(read_only=True) as uow:
            rows = uow.cases.for_inquiry(members, provider_npi)
            out = []
            for row in rows:
                if payers and row.payer_id and row.payer_id not in payers:
                    continue
                if wanted and row.order_id not in wanted:
                    continue
                out.append(CaseRecord.of(row))
            return out

    def history_for_member(self, member_id: str | None, *, exclude_order_id: str | None = None) -> History:
        """Cases on file for the member (R7, R8, R15), oldest first."""
        if not member_id:
            return History.empty()
        # Core on a plain read-only connection: on the hot path of every new request.
        def read():
            with self._reader() as conn:
                return conn.execute(_MEMBER_HISTORY, {"member_id": member_id}).all()

        return self._history(once_more_if_disconnected(read), exclude_order_id)

    @staticmethod
    def _history(rows, exclude_order_id: str | None) -> History:
        return History(tuple(
            PriorCase(order_id=r.order_id, request_id=(r.order or {}).get("request_id", r.request_key),
                      status=r.status, drug_keys=frozenset(r.drug_keys or ()),
                      start=r.start_date, end=r.end_date, regimen_id=r.regimen_id,
                      s0353_awarded_on=r.s0353_awarded_on,
                      order_refs=ehr_order_refs(d.get("ref") for d in (r.order or {}).get("drugs", ())),
                      provider_npi=r.provider_npi)
            for r in rows if r.order_id != exclude_order_id))

    def history_and_key(self, member_id: str, key: str) -> tuple[History, bool]:
        """`history_for_member(member_id)` and "is `key` on file?" in one round trip: what a new
        request needs before it is decided (CaseService.sign). On PostgreSQL one statement (a round
        trip saved: 0.6-0.75 -> 0.4-0.47 ms of CPU in process); on SQLite, where there is no round
        trip to save, the two plain reads (0.31 ms) cost less than the union (0.36 ms)."""
        if not self._one_statement_writes:
            return self.history_for_member(member_id), self._key_on_file(key)

        def read():
            with self._reader() as conn:
                return conn.execute(_HISTORY_AND_KEY, {"member_id": member_id, "key": key}).all()

        rows = once_more_if_disconnected(read)
        known = any(r.kind == "k" for r in rows)
        return self._history([r for r in rows if r.kind == "h"], None), known

    def counts(self) -> dict[str, int]:
        """Row counts per table (tests and health checks)."""
        with self.uow(read_only=True) as uow:
            return {m.__tablename__: uow.count(m) for m in (CaseRow, CaseEventRow, AuditRow, FeedbackRow)}

    # -- writes --------------------------------------------------------------------------

    def save_case(self, *, source: str, request_key: str, order: Order, decision: Decision,
                  raw_request: Any, render_response: Callable[[str], Any],
                  actor: str = "system", provider_npi: str | None = None,
                  raw_request_text: str | None = None, note: str | None = None,
                  key_checked: bool = False) -> CaseRecord:
        """Store a new case atomically. Idempotent on request_key: if it is already on file
        (also when another process wins a race to write it) the existing record comes back
        unchanged, with created=False. `provider_npi` defaults to the ordering provider's;
        PAS passes the submitting provider's (Claim.provider), who may inquire later.
        `raw_request_text`: the request body as received, if `raw_request` is all of it: stored
        as sent instead of encoding `raw_request` again. `key_checked`: the caller found the key
        absent a moment ago (idempotency.resolve), so PostgreSQL need not look again before
        rendering; its write still refuses a key on file (a race costs one render, never a case)."""
        args = dict(key_checked=key_checked, source=source, request_key=request_key, order=order, decision=decision,
                    raw_request=raw_request, render_response=render_response, provider_npi=provider_npi,
                    raw_request_text=raw_request_text, actor=actor, note=note)
        for _attempt in range(3):
            try:
                values = once_more_if_disconnected(lambda: self._insert_new_case(**args))
                if values is not None:
                    return CaseRecord(**{f: values[f] for f in _RECORD_FIELDS}, created=True)
                existing = self.find_case_by_request_key(request_key)   # committed: cases stay
                if existing is not None:
                    return existing
            except IntegrityError:
                existing = self.find_case_by_request_key(request_key)
                if existing is not None:
                    return existing
                # Otherwise an Order ID collision: draw another one.
        raise RuntimeError("could not allocate a unique Order ID")

    def _insert_new_case(self, *, raw_request_text, actor, note, key_checked, **case) -> dict | None:
        """Write a new case, its 'created' event and its audit row in one transaction, unless the
        request key is on file (then None). The values written come back."""
        if self._one_statement_writes:
            if not key_checked and self._key_on_file(case["request_key"]):
                return None   # the response is rendered only for a case to write
            return self._insert_new_case_in_one_statement(raw_request_text=raw_request_text, actor=actor,
                                                          note=note, **case)
        # Core on a plain connection (hot path): no ORM session or unit-of-work bookkeeping
        # for three plain rows. The idempotency check shares the write transaction (on
        # SQLite a BEGIN IMMEDIATE: writers queue, so it cannot race).
        with self.engine.begin() as conn:
            if conn.execute(_REQUEST_KEY_KNOWN, {"key": case["request_key"]}).first() is not None:
                return None
            values = self._new_case_values(**case)
            raw = EncodedJSON(raw_request_text) if raw_request_text else values["raw_request"]
            # The case row first: the event references it. The response is stored once, on the
            # case; its 'created' event gets a copy only if it is ever replaced
            # (CaseRepository.keep_first_response).
            conn.execute(_INSERT_CASE, {**values, "raw_request": raw})
            conn.execute(_INSERT_EVENT, _created_event(values, actor, note or case["source"]))
            conn.execute(_INSERT_AUDIT, _create_audit(values, actor, case["decision"]))
        return values

    def _insert_new_case_in_one_statement(self, *, raw_request_text, actor, note, **case) -> dict | None:
        """PostgreSQL: the same three rows and the same key check in one statement (CTEs), run in
        autocommit: one round trip instead of BEGIN, SELECT, three INSERTs and COMMIT. A single
        statement is atomic, and it returns only after its commit is durable."""
        values = self._new_case_values(**case)
        raw = EncodedJSON(raw_request_text) if raw_request_text else values["raw_request"]
        params = {**{f"c_{k}": v for k, v in {**values, "raw_request": raw}.items()},
                  **{f"e_{k}": v for k, v in _created_event(values, actor, note or case["source"]).items()},
                  **{f"a_{k}": v for k, v in _create_audit(values, actor, case["decision"]).items()}}
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            written = conn.execute(_one_statement_insert(self.engine), params).first()
        return values if written is not None else None

    def _new_case_values(self, *, source, request_key, order, decision, raw_request, render_response,
                         provider_npi) -> dict:
        order_id = self._order_ids()
        response = render_response(order_id)
        return dict(order_id=order_id, source=source, request_key=request_key,
                    member_id=order.member.id,
                    provider_npi=provider_npi or order.ordering_provider.npi,
                    payer_id=order.payer_id, status=decision.case_status.value,
                    received_at=_utc(order.received_at), due_by=_utc(decision.due_by),
                    updated_at=utcnow(), raw_request=raw_request,
                    order=serialize.order_to_dict(order),
                    decision=serialize.decision_to_dict(decision), response=response,
                    kb_version=decision.kb_version, revision=1,
                    **_history_columns(order, decision))

    def update_case(self, order_id: str, *, request_key: str, order: Order, decision: Decision,
                    raw_request: Any, render_response: Callable[[str], Any], kind: str = "updated",
                    actor: str = "system", note: str | None = None) -> CaseRecord:
        """A new decision for the whole case (an update or cancel request). Atomic; idempotent
        on the update's own request_key."""
        existing = self.find_case_by_request_key(request_key)
        if existing is not None:
            return existing
        response = render_response(order_id)
        try:
            with self.uow() as uow:
                row = uow.cases.get(order_id, for_update=True)
                if row is None:
                    raise NotFound(f"case {order_id} not found")
                before = {"status": row.status, "revision": row.revision, "drugs": _drug_statuses(row)}
                now = utcnow()
                row.order = serialize.order_to_dict(order)
                row.decision = serialize.decision_to_dict(decision)
                uow.cases.keep_first_response(row)
                row.response = response
                row.status = decision.case_status.value
                row.due_by = _utc(decision.due_by)
                row.kb_version = decision.kb_version
                row.updated_at = now
                row.revision = row.revision + 1
                for column, value in _history_columns(order, decision).items():
                    setattr(row, column, value)
                uow.cases.add_event(CaseEventRow(order_id=order_id, at=now, kind=kind, status=row.status,
                                                 actor=actor, note=note, request_key=request_key,
                                                 raw_request=raw_request, response=response))
                uow.audit.record(actor=actor, action=f"case.{kind}", entity="case", entity_id=order_id,
                                 before=before, after=_summary(decision) | {"revision": row.revision})
                uow.commit()
                return CaseRecord.of(row)
        except IntegrityError:
            existing = self.find_case_by_request_key(request_key)
            if existing is None:
                raise
            return existing

    def update_case_status(self, order_id: str, status: CaseStatus | str, *, actor: str,
                           note: str | None = None, decision: Decision | None = None,
                           response: Any = None) -> CaseRecord:
        """A status change (e.g. a reviewer's decision), with an event and an audit row."""
        status = status.value if isinstance(status, CaseStatus) else CaseStatus(status).value
        with self.uow() as uow:
            row = uow.cases.get(order_id, for_update=True)
            if row is None:
                raise NotFound(f"case {order_id} not found")
            before = {"status": row.status, "revision": row.revision}
            now = utcnow()
            row.status = status
            row.updated_at = now
            row.revision = row.revision + 1
            if decision is not None:
                row.decision = serialize.decision_to_dict(decision)
            if response is not None:
                uow.cases.keep_first_response(row)
                row.response = response
            uow.cases.add_event(CaseEventRow(order_id=order_id, at=now, kind="status", status=status,
                                             actor=actor, note=note))
            uow.audit.record(actor=actor, action="case.status", entity="case", entity_id=order_id,
                             before=before, after={"status": status, "revision": row.revision, "note": note})
            uow.commit()
            return CaseRecord.of(row)

    def record_feedback(self, service_id: str, rows: Iterable[dict], *, actor: str = "cds-client") -> int:
        """Store CDS Hooks feedback entries ({card, outcome, outcomeTimestamp, ...}); returns
        how many were written. One transaction for the whole batch."""
        rows = list(rows)
        now = utcnow()
        with self.uow() as uow:
            for body in rows:
                uow.feedback.add(FeedbackRow(service_id=service_id, card=body.get("card"),
                                             outcome=body.get("outcome"),
                                             outcome_timestamp=body.get("outcomeTimestamp"),
                                             received_at=now, body=body))
            uow.audit.record(actor=actor, action="feedback.record", entity="feedback",
                             entity_id=service_id, after={"rows": len(rows)})
            uow.commit()
        return len(rows)

    def feedback_for(self, service_id: str) -> list[dict]:
        with self.uow(read_only=True) as uow:
            return [r.body for r in uow.feedback.for_service(service_id)]


def _drug_statuses(row: CaseRow) -> dict:
    drugs = (row.decision or {}).get("drugs") or []
    return {d.get("ref"): d.get("status") for d in drugs if isinstance(d, dict)}
