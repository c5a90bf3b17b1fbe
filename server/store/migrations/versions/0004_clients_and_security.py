"""B2B clients, their tokens, used jtis, subscription owners, portal sessions (issue 15)

- `clients`: SMART Backend Services clients (public key set or its URL, organisations, scopes).
- `client_tokens`: access tokens from POST /oauth/token, stored as SHA-256, with expiry.
- `used_jtis`: each accepted jti (client assertions, CDS Hooks JWTs) until it expires, so a
  replay is refused by every worker and host.
- `subscription_owners`: the client that created each Subscription.
- `portal_sessions`: server-side reviewer sessions (revoked at sign-out).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Spelled out here, not imported from client_models.py: a revision keeps the schema of its day.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("jwks", JSON),
        sa.Column("jwks_url", sa.Text),
        sa.Column("organizations", JSON, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC),
    )
    op.create_table(
        "client_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
    )
    op.create_index("ix_client_tokens_client_id", "client_tokens", ["client_id"])
    op.create_table(
        "used_jtis",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTC, nullable=False),
    )
    op.create_index("ix_used_jtis_expires_at", "used_jtis", ["expires_at"])
    op.create_table(
        "subscription_owners",
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_subscription_owners_client_id", "subscription_owners", ["client_id"])
    op.create_table(
        "portal_sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
    )
    op.create_index("ix_portal_sessions_reviewer", "portal_sessions", ["reviewer_id"])


def downgrade() -> None:
    for index, table in (("ix_portal_sessions_reviewer", "portal_sessions"),
                         ("ix_subscription_owners_client_id", "subscription_owners"),
                         ("ix_used_jtis_expires_at", "used_jtis"), ("ix_client_tokens_client_id", "client_tokens")):
        op.drop_index(index, table_name=table)
    for table in ("portal_sessions", "subscription_owners", "used_jtis", "client_tokens", "clients"):
        op.drop_table(table)
