"""A database as the old hand-written migration runner (server/store/migrations.py before
Alembic) left it: its DDL frozen here, as its create_all emitted it for SQLite and PostgreSQL,
with its `schema_version` rows. The Alembic migration tests upgrade such a database in place."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine, text

_MIGRATION_1 = """
CREATE TABLE cases ( order_id VARCHAR(16) NOT NULL, source VARCHAR(8) NOT NULL, request_key VARCHAR NOT NULL, member_id VARCHAR, provider_npi VARCHAR, payer_id VARCHAR, status VARCHAR(40) NOT NULL, received_at {ts} NOT NULL, due_by {ts}, updated_at {ts} NOT NULL, raw_request {json} NOT NULL, "order" {json} NOT NULL, decision {json} NOT NULL, response {json} NOT NULL, kb_version VARCHAR, drug_keys {json} NOT NULL, start_date DATE, end_date DATE, regimen_id VARCHAR, s0353_awarded_on DATE, revision INTEGER NOT NULL, PRIMARY KEY (order_id), UNIQUE (request_key) );
CREATE INDEX ix_cases_member_id ON cases (member_id);
CREATE INDEX ix_cases_member_provider ON cases (member_id, provider_npi);
CREATE TABLE case_events ( id {serial} NOT NULL, order_id VARCHAR(16) NOT NULL, at {ts} NOT NULL, kind VARCHAR(32) NOT NULL, status VARCHAR(40) NOT NULL, actor VARCHAR NOT NULL, note TEXT, request_key VARCHAR, raw_request {json}, response {json}, PRIMARY KEY (id), FOREIGN KEY(order_id) REFERENCES cases (order_id), UNIQUE (request_key) );
CREATE INDEX ix_case_events_order_id ON case_events (order_id);
CREATE TABLE audit ( id {serial} NOT NULL, at {ts} NOT NULL, actor VARCHAR NOT NULL, action VARCHAR(64) NOT NULL, entity VARCHAR(64) NOT NULL, entity_id VARCHAR NOT NULL, "before" {json}, "after" {json}, PRIMARY KEY (id) );
CREATE INDEX ix_audit_entity_id ON audit (entity_id);
CREATE TABLE feedback ( id {serial} NOT NULL, service_id VARCHAR NOT NULL, card VARCHAR, outcome VARCHAR, outcome_timestamp VARCHAR, received_at {ts} NOT NULL, body {json} NOT NULL, PRIMARY KEY (id) );
CREATE INDEX ix_feedback_service_id ON feedback (service_id)
"""

_MIGRATION_2 = """
CREATE TABLE reviewers ( id {serial} NOT NULL, username VARCHAR(64) NOT NULL, role VARCHAR(16) NOT NULL, password_hash VARCHAR(256) NOT NULL, active BOOLEAN NOT NULL, created_at {ts} NOT NULL, PRIMARY KEY (id), UNIQUE (username) );
CREATE TABLE reviewer_tokens ( token_hash VARCHAR(64) NOT NULL, reviewer_id INTEGER NOT NULL, created_at {ts} NOT NULL, expires_at {ts} NOT NULL, PRIMARY KEY (token_hash), FOREIGN KEY(reviewer_id) REFERENCES reviewers (id) );
CREATE INDEX ix_reviewer_tokens_reviewer_id ON reviewer_tokens (reviewer_id);
CREATE TABLE review_actions ( id {serial} NOT NULL, order_id VARCHAR(16) NOT NULL, at {ts} NOT NULL, actor VARCHAR NOT NULL, role VARCHAR(16) NOT NULL, action VARCHAR(32) NOT NULL, detail {json}, PRIMARY KEY (id), FOREIGN KEY(order_id) REFERENCES cases (order_id) );
CREATE INDEX ix_review_actions_order_id ON review_actions (order_id);
CREATE TABLE subscriptions ( id VARCHAR(64) NOT NULL, org_identifier VARCHAR NOT NULL, endpoint TEXT NOT NULL, status VARCHAR(16) NOT NULL, resource {json} NOT NULL, events_since_start INTEGER NOT NULL, created_at {ts} NOT NULL, PRIMARY KEY (id) );
CREATE INDEX ix_subscriptions_org_identifier ON subscriptions (org_identifier);
CREATE TABLE notifications ( id {serial} NOT NULL, subscription_id VARCHAR(64) NOT NULL, order_id VARCHAR(16) NOT NULL, event_number INTEGER NOT NULL, payload {json} NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, next_attempt_at {ts} NOT NULL, created_at {ts} NOT NULL, delivered_at {ts}, PRIMARY KEY (id) );
CREATE INDEX ix_notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX ix_notifications_order_id ON notifications (order_id);
CREATE INDEX ix_notifications_subscription_id ON notifications (subscription_id);
CREATE TABLE deliveries ( id {serial} NOT NULL, notification_id INTEGER NOT NULL, at {ts} NOT NULL, attempt INTEGER NOT NULL, status_code INTEGER, ok BOOLEAN NOT NULL, error TEXT, PRIMARY KEY (id), FOREIGN KEY(notification_id) REFERENCES notifications (id) );
CREATE INDEX ix_deliveries_notification_id ON deliveries (notification_id)
"""

_MIGRATION_3 = """
ALTER TABLE cases ALTER COLUMN "raw_request" SET COMPRESSION lz4;
ALTER TABLE cases ALTER COLUMN "response" SET COMPRESSION lz4;
ALTER TABLE cases ALTER COLUMN "order" SET COMPRESSION lz4;
ALTER TABLE cases ALTER COLUMN "decision" SET COMPRESSION lz4;
ALTER TABLE case_events ALTER COLUMN "raw_request" SET COMPRESSION lz4;
ALTER TABLE case_events ALTER COLUMN "response" SET COMPRESSION lz4
"""

_TYPES = {"sqlite": {"ts": "DATETIME", "json": "JSON", "serial": "INTEGER"},
          "postgresql": {"ts": "TIMESTAMP WITH TIME ZONE", "json": "JSONB", "serial": "SERIAL"}}


def legacy_migrate(engine: Engine, *, upto: int = 3) -> None:
    """What the old runner did on an empty database, up to migration `upto` (1-3)."""
    dialect = engine.dialect.name
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE schema_version ( version INTEGER NOT NULL, "
                             f"applied_at {_TYPES[dialect]['ts']} NOT NULL, PRIMARY KEY (version) )")
        for number, ddl in ((1, _MIGRATION_1), (2, _MIGRATION_2), (3, _MIGRATION_3)):
            if number > upto:
                break
            lz4 = number == 3
            if lz4 and (dialect != "postgresql" or engine.dialect.server_version_info < (14,)):
                pass   # the old migration 3 did nothing there
            else:
                for statement in ddl.format(**_TYPES[dialect]).split(";"):
                    conn.exec_driver_sql(statement)
            conn.execute(text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :at)"),
                         {"v": number, "at": datetime.now(timezone.utc)})
