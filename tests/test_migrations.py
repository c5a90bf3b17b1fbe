"""Store migrations through Alembic: the models and the head revision agree, a database of the
old hand-written runner (schema_version 1-3, with data) upgrades in place, and concurrent
start-ups serialize. On SQLite and PostgreSQL (conftest.database_url)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text

from legacy_store import legacy_migrate
from racing import race_two
from server.store import CaseStore, client_models, migrations  # noqa: F401 - client tables on Base.metadata
from server.store.db import make_engine
from server.store.models import Base
from server.store.review import ReviewStore
from test_store import make_decision, make_order

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
CASE_JSON = {("cases", "raw_request"), ("cases", "response"), ("cases", "order"), ("cases", "decision"),
             ("case_events", "raw_request"), ("case_events", "response")}


def schema_diff(engine, metadata=Base.metadata) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def alembic_versions(engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]


def lz4_columns(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                                 "WHERE c.relnamespace = current_schema()::regnamespace AND a.attcompression = 'l'"))
        return {(r[0], r[1]) for r in rows}


def test_the_head_revision_creates_exactly_the_schema_of_the_models(database_url):
    store = CaseStore.from_url(database_url)
    try:
        assert migrations.head() == "0004"
        assert alembic_versions(store.engine) == ["0004"]
        assert schema_diff(store.engine) == []
        assert not inspect(store.engine).has_table("schema_version")
    finally:
        store.dispose()


def test_the_model_comparison_notices_a_column_the_revisions_do_not_create(database_url):
    store = CaseStore.from_url(database_url)
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["cases"].append_column(Column("priority", Integer))
    try:
        diff = schema_diff(store.engine, drifted)
    finally:
        store.dispose()
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "priority")]


def test_migrating_again_changes_nothing(database_url):
    store = CaseStore.from_url(database_url)
    try:
        assert store.migrate() == "0004"
        assert store.migrate() == "0004"
        assert alembic_versions(store.engine) == ["0004"]
    finally:
        store.dispose()


def test_case_json_is_lz4_compressed_on_postgresql(postgres_url):
    store = CaseStore.from_url(postgres_url)
    try:
        assert lz4_columns(store.engine) == CASE_JSON
    finally:
        store.dispose()


def _fill_legacy(engine, version: int) -> dict:
    """Data written through today's store API into the old runner's schema (not migrated)."""
    store = CaseStore(engine, order_ids=iter(["ONC-LEGACY0001", "ONC-LEGACY0002"]).__next__)
    first = store.save_case(source="pas", request_key="pas|sys|legacy-1", order=make_order(),
                            decision=make_decision(), raw_request={"resourceType": "Bundle", "id": "b1"},
                            render_response=lambda oid: {"resourceType": "Bundle", "id": oid})
    store.update_case(first.order_id, request_key="pas|sys|legacy-1-update", order=make_order(),
                      decision=make_decision(), raw_request={"resourceType": "Bundle", "id": "b2"},
                      render_response=lambda oid: {"resourceType": "Bundle", "id": oid + "-2"}, note="update")
    store.record_feedback("oncopath-order-sign", [{"card": "c-1", "outcome": "accepted"}])
    if version >= 2:
        reviews = ReviewStore(store)
        reviews.add_reviewer("dr-legacy", "physician", "scrypt$x", now=NOW)
        reviews.add_subscription("sub-1", org_identifier="1245319599", endpoint="http://127.0.0.1:9/hook",
                                 resource={"resourceType": "Subscription", "id": "sub-1"}, now=NOW, actor="t")
        reviews.record_action(first.order_id, actor="system", role="system", action="escalate",
                              detail={"to": "physician"}, now=NOW)
    return {"order_id": first.order_id, "counts": store.counts()}


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_database_of_the_old_runner_upgrades_in_place_and_keeps_its_data(database_url, version):
    engine = make_engine(database_url)
    legacy_migrate(engine, upto=version)
    expected = _fill_legacy(engine, version)
    engine.dispose()

    store = CaseStore.from_url(database_url)   # start-up: adopt schema_version, then upgrade
    try:
        assert alembic_versions(store.engine) == ["0004"]
        assert not inspect(store.engine).has_table("schema_version")
        assert schema_diff(store.engine) == []
        assert store.counts() == expected["counts"]
        case = store.get_case(expected["order_id"])
        assert case.revision == 2 and case.response == {"resourceType": "Bundle", "id": "ONC-LEGACY0001-2"}
        assert case.decision_obj() == make_decision()
        # The request that created the case is still answered as it was the first time.
        assert store.find_case_by_request_key("pas|sys|legacy-1").response["id"] == "ONC-LEGACY0001"
        assert [e.kind for e in store.case_events(case.order_id)] == ["created", "updated"]
        assert store.feedback_for("oncopath-order-sign") == [{"card": "c-1", "outcome": "accepted"}]
        reviews = ReviewStore(store)
        if version >= 2:
            assert reviews.reviewer_by_username("dr-legacy").role == "physician"
            assert reviews.get_subscription("sub-1") == ({"resourceType": "Subscription", "id": "sub-1"}, 0)
            assert [a.action for a in reviews.review_actions(case.order_id)] == ["escalate"]
        else:   # revision 0002 created the review tables: empty, and usable
            assert reviews.reviewer_by_username("dr-legacy") is None
            reviews.add_reviewer("dr-new", "nurse", "scrypt$y", now=NOW)
            assert reviews.reviewer_by_username("dr-new").role == "nurse"
        if store.engine.dialect.name == "postgresql":
            assert lz4_columns(store.engine) == CASE_JSON
    finally:
        store.dispose()


def test_a_database_newer_than_the_code_is_refused_and_left_as_it_is(database_url):
    engine = make_engine(database_url)
    legacy_migrate(engine, upto=3)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_version (version, applied_at) VALUES (9, :at)"), {"at": NOW})
    with pytest.raises(RuntimeError, match="schema_version 9.*no Alembic revision '0009'"):
        migrations.migrate(engine)
    assert inspect(engine).has_table("schema_version") and not inspect(engine).has_table("alembic_version")
    engine.dispose()


def test_an_alembic_version_on_file_wins_over_a_schema_version_the_old_runner_wrote_again(database_url):
    """An old process started after the upgrade re-creates schema_version (its migrations are
    no-ops on the existing tables); the next start-up keeps the Alembic revision."""
    store = CaseStore.from_url(database_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at VARCHAR)")
        conn.exec_driver_sql("INSERT INTO schema_version (version, applied_at) VALUES (1, 'x')")
    try:
        assert store.migrate() == "0004"
        assert not inspect(store.engine).has_table("schema_version")
        assert schema_diff(store.engine) == []
    finally:
        store.dispose()


def _start_up(url: str, barrier, results) -> None:
    engine = make_engine(url)
    barrier.wait(timeout=30)
    results.put(migrations.migrate(engine))
    engine.dispose()


@pytest.mark.parametrize("legacy", [False, True], ids=["empty", "old-runner-v2"])
def test_two_processes_starting_at_once_migrate_the_database_once(database_url, legacy):
    if legacy:
        engine = make_engine(database_url)
        legacy_migrate(engine, upto=2)
        engine.dispose()
    assert race_two(_start_up, database_url) == ["0004", "0004"]
    engine = make_engine(database_url)
    try:
        assert alembic_versions(engine) == ["0004"]
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_the_head_read_from_the_revision_files_is_alembics_own_also_for_a_revision_made_from_its_template(
        tmp_path, monkeypatch):
    from alembic.script import ScriptDirectory

    assert migrations.declared_head() == migrations.head() == "0004"
    versions = tmp_path / "versions"
    versions.mkdir()
    for path in (migrations.HERE / "versions").glob("0*.py"):
        (versions / path.name).write_text(path.read_text())
    (versions / "0005_probe.py").write_text(   # the shape `revision --autogenerate` writes
        'from typing import Sequence, Union\n\nrevision: str = "0005"\n'
        'down_revision: Union[str, Sequence[str], None] = "0004"\nbranch_labels = None\ndepends_on = None\n\n'
        'def upgrade() -> None:\n    pass\n')
    monkeypatch.setattr(migrations, "HERE", tmp_path)
    assert migrations.declared_head() == ScriptDirectory(str(tmp_path)).get_current_head() == "0005"


def test_a_process_starting_on_a_database_at_head_does_not_load_alembic(database_url):
    import subprocess
    import sys

    CaseStore.from_url(database_url).dispose()
    code = ("import sys; from server.store import CaseStore; s = CaseStore.from_url(sys.argv[1]); "
            "print(s.migrate(), 'alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, database_url], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["0004", "False"], out.stderr

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.integration
