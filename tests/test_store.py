"""The case store, on SQLite and on PostgreSQL (see conftest.database_url)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select, text

from server.domain.decision import (
    CaseStatus, Decision, DrugDecision, DrugStatus, PathwayMatch, Reason, SCode, TraceStep,
)
from server.domain.order import (
    Code, Diagnosis, DrugLine, LineOfBusiness, Member, Order, Provider, ProviderKind, Setting,
)
from server.errors import NotFound
from server.store import CaseStore
from server.store.db import normalize_url
from server.store import migrations

RECEIVED = datetime(2026, 11, 16, 14, 0, tzinfo=timezone.utc)


def make_order(member="M1", npi="1245319599", request_id="claim-1", drugs=("trastuzumab",)) -> Order:
    return Order(
        request_id=request_id,
        member=Member(id=member, birth_date=date(1957, 3, 14), line_of_business=LineOfBusiness.MEDICARE_ADVANTAGE),
        ordering_provider=Provider(npi=npi, name="Dr Chen", kind=ProviderKind.INDIVIDUAL),
        servicing_provider=None,
        diagnosis=Diagnosis(codes=(Code("http://hl7.org/fhir/sid/icd-10-cm", "C50.911"),), stage_group="IV",
                            setting=Setting.METASTATIC),
        drugs=tuple(DrugLine(ref=f"item/{i + 1}", codes=(Code("rx", key),), display=key,
                             start=date(2026, 12, 1), end=date(2027, 5, 31)) for i, key in enumerate(drugs)),
        treatment_start=date(2026, 12, 1),
        received_at=RECEIVED,
        fn_risk_factors=frozenset({"age-65-or-older"}),
        payer_id="PAYER-1",
    )


def make_decision(status=CaseStatus.AUTHORIZED, drugs=("trastuzumab",)) -> Decision:
    drug_status = DrugStatus.AUTHORIZED if status is CaseStatus.AUTHORIZED else DrugStatus.IN_PROGRESS
    return Decision(
        case_status=status,
        drugs=tuple(DrugDecision(ref=f"item/{i + 1}", drug_key=key, display=key, status=drug_status,
                                 reasons=(Reason("policy-met", "meets medical policy", "R3"),), managed=True,
                                 hcpcs="J9355", billing_units=48.0, visits=9,
                                 authorized_from=date(2026, 12, 1), authorized_to=date(2027, 5, 31))
                    for i, key in enumerate(drugs)),
        kb_version="kb-2026.4",
        in_program=True,
        trace=(TraceStep("R3", "policy met"),),
        cancer_type="breast",
        pathway=PathwayMatch("breast-her2pos-metastatic-1l", "HER2+ metastatic", "breast-thp", "THP",
                             "kb-2026.4", "PE-0001"),
        s_codes=(SCode("S0353", date(2026, 12, 1), date(2026, 12, 1), 1),),
    )


@pytest.fixture
def store(database_url):
    s = CaseStore.from_url(database_url)
    yield s
    s.dispose()


def save(store, key="pas|urn:trn|1", order=None, decision=None, calls=None):
    def render(order_id):
        if calls is not None:
            calls.append(order_id)
        return {"resourceType": "Bundle", "id": order_id}
    return store.save_case(source="pas", request_key=key, order=order or make_order(),
                           decision=decision or make_decision(), raw_request={"resourceType": "Bundle"},
                           render_response=render)


def test_a_saved_case_gets_an_order_id_and_round_trips_its_order_and_decision(store):
    order, decision = make_order(), make_decision()
    record = save(store, order=order, decision=decision)
    assert record.created is True
    assert record.order_id.startswith("ONC-") and len(record.order_id) == 14
    again = store.get_case(record.order_id)
    assert again.status == "Authorized"
    assert again.kb_version == "kb-2026.4"
    assert again.member_id == "M1" and again.provider_npi == "1245319599" and again.payer_id == "PAYER-1"
    assert again.response == {"resourceType": "Bundle", "id": record.order_id}
    assert again.received_at == RECEIVED
    assert again.order_obj() == order
    assert again.decision_obj() == decision


def test_saving_the_same_request_key_twice_returns_the_first_case_unchanged(store):
    calls = []
    first = save(store, calls=calls)
    second = save(store, calls=calls, decision=make_decision(CaseStatus.IN_PROGRESS))
    assert second.order_id == first.order_id
    assert second.created is False
    assert second.status == "Authorized"
    assert calls == [first.order_id]       # the response is rendered once
    assert store.counts()["cases"] == 1


def test_creating_a_case_writes_a_status_event_and_an_audit_row(store):
    record = save(store)
    events = store.case_events(record.order_id)
    assert [(e.kind, e.status) for e in events] == [("created", "Authorized")]
    audit = store.audit_trail(record.order_id)
    assert [a.action for a in audit] == ["case.create"]
    assert audit[0].after["drugs"] == {"item/1": "Authorized"}
    assert audit[0].before is None


def test_a_failure_while_rendering_writes_nothing(store):
    def broken(_order_id):
        raise ValueError("renderer failed")
    with pytest.raises(ValueError):
        store.save_case(source="pas", request_key="k", order=make_order(), decision=make_decision(),
                        raw_request={}, render_response=broken)
    assert store.counts() == {"cases": 0, "case_events": 0, "audit": 0, "feedback": 0}


def test_a_failure_inside_the_transaction_rolls_back_every_row(store):
    with pytest.raises(Exception):
        # A response that cannot be stored as JSON fails at flush, after the case row was added.
        store.save_case(source="pas", request_key="k", order=make_order(), decision=make_decision(),
                        raw_request={}, render_response=lambda oid: {"bad": object()})
    assert store.counts() == {"cases": 0, "case_events": 0, "audit": 0, "feedback": 0}


def test_history_for_member_lists_prior_cases_with_drugs_dates_regimen_and_s0353(store):
    record = save(store, order=make_order(drugs=("docetaxel", "trastuzumab")),
                  decision=make_decision(drugs=("docetaxel", "trastuzumab")))
    save(store, key="pas|urn:trn|other", order=make_order(member="M2"))
    history = store.history_for_member("M1")
    assert len(history.prior_cases) == 1
    prior = history.prior_cases[0]
    assert prior.order_id == record.order_id
    assert prior.request_id == "claim-1"
    assert prior.status == "Authorized"
    assert prior.drug_keys == frozenset({"docetaxel", "trastuzumab"})
    assert (prior.start, prior.end) == (date(2026, 12, 1), date(2027, 5, 31))
    assert prior.regimen_id == "breast-thp"
    assert prior.s0353_awarded_on == date(2026, 12, 1)
    assert store.history_for_member("M1", exclude_order_id=record.order_id).prior_cases == ()
    assert store.history_for_member(None).prior_cases == ()


def test_an_inquiry_sees_only_the_cases_the_same_provider_submitted(store):
    mine = save(store)
    save(store, key="pas|urn:trn|2", order=make_order(npi="1679576722"))
    found = store.cases_for_inquiry({"M1", "other-id"}, "1245319599")
    assert [r.order_id for r in found] == [mine.order_id]
    assert store.cases_for_inquiry("M1", "9999999999") == []
    assert store.cases_for_inquiry("M1", "1245319599", payer_id={"ANOTHER-PAYER"}) == []
    assert store.cases_for_inquiry("M1", "1245319599", identifiers={"ONC-NOTMINE00"}) == []
    assert len(store.cases_for_inquiry("M1", "1245319599", identifiers={mine.order_id})) == 1


def test_a_status_change_is_recorded_with_who_and_before_and_after(store):
    record = save(store, decision=make_decision(CaseStatus.IN_PROGRESS))
    updated = store.update_case_status(record.order_id, CaseStatus.NON_AUTHORIZED, actor="md:reviewer-7",
                                       note="peer-to-peer offered")
    assert updated.status == "Non-Authorized" and updated.revision == 2
    assert [e.status for e in store.case_events(record.order_id)] == ["In Progress", "Non-Authorized"]
    last = store.audit_trail(record.order_id)[-1]
    assert (last.actor, last.action) == ("md:reviewer-7", "case.status")
    assert last.before["status"] == "In Progress" and last.after["status"] == "Non-Authorized"
    with pytest.raises(NotFound):
        store.update_case_status("ONC-XXXXXXXXXX", CaseStatus.COMPLETED, actor="x")


def test_an_update_replaces_the_decision_and_is_idempotent_on_its_own_key(store):
    record = save(store)
    decision = make_decision(CaseStatus.IN_PROGRESS, drugs=("trastuzumab", "pegfilgrastim"))
    order = make_order(drugs=("trastuzumab", "pegfilgrastim"), request_id="claim-1-upd")
    args = dict(request_key="pas|urn:trn|1-upd", order=order, decision=decision, raw_request={"u": 1},
                render_response=lambda oid: {"id": oid, "rev": 2})
    updated = store.update_case(record.order_id, **args)
    assert updated.order_id == record.order_id
    assert updated.status == "In Progress" and updated.revision == 2
    again = store.update_case(record.order_id, **args)
    assert again.revision == 2
    assert store.find_case_by_request_key("pas|urn:trn|1-upd").response == {"id": record.order_id, "rev": 2}
    original = store.find_case_by_request_key("pas|urn:trn|1")
    assert original.order_id == record.order_id
    assert original.response == {"resourceType": "Bundle", "id": record.order_id}   # its own answer
    assert store.get_case(record.order_id).response == {"id": record.order_id, "rev": 2}
    assert [e.kind for e in store.case_events(record.order_id)] == ["created", "updated"]
    assert store.history_for_member("M1").prior_cases[0].drug_keys == frozenset({"trastuzumab", "pegfilgrastim"})


def test_cds_feedback_rows_are_stored_per_service(store):
    rows = [{"card": "c-1", "outcome": "accepted", "outcomeTimestamp": "2026-11-20T10:00:00Z",
             "acceptedSuggestions": [{"id": "s-1"}]},
            {"card": "c-2", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T10:01:00Z",
             "overrideReason": {"reason": {"code": "patient-preference"}}}]
    assert store.record_feedback("oncopath-order-sign", rows) == 2
    assert [r["outcome"] for r in store.feedback_for("oncopath-order-sign")] == ["accepted", "overridden"]
    assert store.feedback_for("other") == []
    assert store.counts()["feedback"] == 2


def test_migrations_record_the_alembic_revision_and_are_safe_to_run_again(store):
    assert store.migrate() == migrations.head() == "0004"
    with store.uow() as uow:
        versions = [r[0] for r in uow.session.execute(text("SELECT version_num FROM alembic_version"))]
    assert versions == ["0004"]


def test_postgresql_urls_are_rewritten_to_the_psycopg_driver():
    assert normalize_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_sqlite_file_store_creates_its_directory_and_uses_wal(tmp_path):
    path = tmp_path / "deep" / "er" / "cases.db"
    store = CaseStore.from_url(f"sqlite:///{path}")
    save(store)
    store.dispose()
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 1


def test_a_case_keeps_the_request_text_as_received_and_reads_it_back_as_json(database_url, tmp_path):
    """An order-sign body is stored exactly as sent (no second encoding on the hot path); its
    response is stored once, on the case, until a later change replaces it."""
    from sqlalchemy import text

    from server.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CDS_JWT_REQUIRED": False,
                      "PUBLIC_BASE_URL": "https://oncopath.example.org"})
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "hooks" / "order-sign-thp-her2-positive.json"
    sent = json.dumps(json.loads(fixture.read_text()), indent=3)   # whitespace a re-encoding would lose
    resp = app.test_client().post("/cds-services/oncopath-order-sign", data=sent.encode(),
                                  content_type="application/json")
    assert resp.status_code == 200
    store = app.extensions["oncopath.store"]
    with store.engine.connect() as conn:
        order_id, raw = conn.execute(text("SELECT order_id, raw_request FROM cases")).one()
    case = store.get_case(order_id)
    assert case.raw_request == json.loads(sent)
    assert case.response == resp.get_json()
    assert _created_event_response(store, order_id) is None   # stored once, on the case
    if store.engine.dialect.name == "sqlite":
        assert raw == sent                           # byte for byte, indentation included
    else:
        assert raw == json.loads(sent)               # JSONB keeps the value, not the text
    # Once the case's response is replaced, its 'created' event keeps the first one, and the
    # request that created the case still gets its own answer.
    store.update_case_status(order_id, "In Progress", actor="rn1", response={"cards": []})
    assert _created_event_response(store, order_id) == resp.get_json()
    assert store.find_case_by_request_key(json.loads(sent)["hookInstance"]).response == resp.get_json()
    assert store.get_case(order_id).response == {"cards": []}


def _created_event_response(store, order_id):
    from sqlalchemy import text
    with store.engine.connect() as conn:
        (value,) = conn.execute(text("SELECT response FROM case_events WHERE order_id = :o AND kind = 'created'"),
                                {"o": order_id}).one()
    return json.loads(value) if isinstance(value, str) else value


def test_postgresql_compresses_new_case_json_with_lz4(postgres_url):
    """Migration 3: the large JSON columns of a case use lz4 on PostgreSQL 14+ (cheaper on the
    database's CPU than pglz); their values read back unchanged."""
    from sqlalchemy import text

    s = CaseStore.from_url(postgres_url)
    try:
        record = save(s)
        with s.engine.connect() as conn:
            if conn.dialect.server_version_info < (14,):
                pytest.skip("PostgreSQL before 14 has no per-column compression")
            methods = dict(conn.execute(text(
                "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'cases'::regclass "
                "AND attname IN ('raw_request', 'response', 'order', 'decision', 'member_id')")).all())
        assert {methods[c] for c in ("raw_request", "response", "order", "decision")} == {"l"}
        assert methods["member_id"] in ("", None)         # only the JSON columns
        assert s.get_case(record.order_id).response == {"resourceType": "Bundle", "id": record.order_id}
    finally:
        s.dispose()


def test_hot_path_reads_skip_transaction_round_trips_on_postgresql_and_take_no_write_lock_on_sqlite(store):
    record = save(store)
    with store._reader() as conn:
        options = conn.get_execution_options()
        if store.engine.dialect.name == "postgresql":
            assert options["isolation_level"] == "AUTOCOMMIT"
        else:
            assert options.get("oncopath_read_only") is True
    assert [p.order_id for p in store.history_for_member("M1").prior_cases] == [record.order_id]
    assert store.find_case_by_request_key("pas|urn:trn|1").order_id == record.order_id
    assert store.find_case_by_request_key("pas|urn:trn|unknown") is None

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.integration
