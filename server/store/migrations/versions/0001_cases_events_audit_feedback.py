"""cases, case_events, audit, feedback (the old runner's migration 1)

Revision ID: 0001
Revises:
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out here, not imported from models.py: a revision keeps the schema of its day.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("order_id", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("request_key", sa.String, nullable=False, unique=True),
        sa.Column("member_id", sa.String),
        sa.Column("provider_npi", sa.String),
        sa.Column("payer_id", sa.String),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("due_by", UTC),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("raw_request", JSON, nullable=False),
        sa.Column("order", JSON, nullable=False),
        sa.Column("decision", JSON, nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column("kb_version", sa.String),
        sa.Column("drug_keys", JSON, nullable=False),
        sa.Column("start_date", sa.Date),
        sa.Column("end_date", sa.Date),
        sa.Column("regimen_id", sa.String),
        sa.Column("s0353_awarded_on", sa.Date),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_cases_member_id", "cases", ["member_id"])
    op.create_index("ix_cases_member_provider", "cases", ["member_id", "provider_npi"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(16), sa.ForeignKey("cases.order_id"), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("request_key", sa.String, unique=True),
        sa.Column("raw_request", JSON),
        sa.Column("response", JSON),
    )
    op.create_index("ix_case_events_order_id", "case_events", ["order_id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String, nullable=False),
        sa.Column("before", JSON),
        sa.Column("after", JSON),
    )
    op.create_index("ix_audit_entity_id", "audit", ["entity_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String, nullable=False),
        sa.Column("card", sa.String),
        sa.Column("outcome", sa.String),
        sa.Column("outcome_timestamp", sa.String),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("body", JSON, nullable=False),
    )
    op.create_index("ix_feedback_service_id", "feedback", ["service_id"])


def downgrade() -> None:
    for name in ("feedback", "audit", "case_events", "cases"):
        op.drop_table(name)
