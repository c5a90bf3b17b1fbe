"""Tables of B2B client access and of shared security state (migration 4).

- `clients`: SMART Backend Services clients (payer gateways, EHR back ends): a name, their
  public key set (inline JWKS or a URL), the organisations (NPIs) they may act for, the
  `system/` scopes they may ask for, and whether they are revoked.
- `client_tokens`: access tokens issued by `POST /oauth/token`, stored only as SHA-256, with
  their client, scopes and expiry.
- `used_jtis`: every `jti` accepted (client assertions and CDS Hooks JWTs), until its token
  expires: a replay is refused by any worker on any host sharing the database.
- `subscription_owners`: the client that created each Subscription (only it may read or
  delete it; none in open mode).
- `portal_sessions`: server-side reviewer sessions of the portal (the cookie holds only a
  random id), so that signing out revokes the session.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, Json, UtcDateTime


class ClientRow(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    jwks: Mapped[Any] = mapped_column(Json, nullable=True)          # inline key set, or
    jwks_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # where it is published
    organizations: Mapped[Any] = mapped_column(Json)               # ["<NPI>", ...]
    scopes: Mapped[str] = mapped_column(Text)                      # space separated
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ClientTokenRow(Base):
    __tablename__ = "client_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UsedJtiRow(Base):
    __tablename__ = "used_jtis"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)   # SHA-256 of issuer + jti
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SubscriptionOwnerRow(Base):
    __tablename__ = "subscription_owners"

    subscription_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)


class PortalSessionRow(Base):
    __tablename__ = "portal_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_portal_sessions_reviewer", "reviewer_id"),)


TABLES = [ClientRow.__table__, ClientTokenRow.__table__, UsedJtiRow.__table__, SubscriptionOwnerRow.__table__,
          PortalSessionRow.__table__]
