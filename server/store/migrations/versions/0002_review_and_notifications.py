"""reviewers, tokens, review actions, subscriptions, notifications, deliveries (the old runner's migration 2)

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
    )
    op.create_table(
        "reviewer_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id"), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
    )
    op.create_index("ix_reviewer_tokens_reviewer_id", "reviewer_tokens", ["reviewer_id"])
    op.create_table(
        "review_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(16), sa.ForeignKey("cases.order_id"), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", JSON),
    )
    op.create_index("ix_review_actions_order_id", "review_actions", ["order_id"])
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("org_identifier", sa.String, nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource", JSON, nullable=False),
        sa.Column("events_since_start", sa.Integer, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
    )
    op.create_index("ix_subscriptions_org_identifier", "subscriptions", ["org_identifier"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(16), nullable=False),
        sa.Column("event_number", sa.Integer, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("delivered_at", UTC),
    )
    op.create_index("ix_notifications_subscription_id", "notifications", ["subscription_id"])
    op.create_index("ix_notifications_order_id", "notifications", ["order_id"])
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notifications.id"), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_deliveries_notification_id", "deliveries", ["notification_id"])


def downgrade() -> None:
    for name in ("deliveries", "notifications", "subscriptions", "review_actions", "reviewer_tokens", "reviewers"):
        op.drop_table(name)
