"""B2B clients of the FHIR door: the registry, the shared jti store and access tokens.

SMART Backend Services (the HRex / PAS / CRD model for business-to-business calls): a client is
registered with its public key set and the organisations (NPIs) it acts for; it gets an access
token at `POST /oauth/token` (server/http/smart.py) by signing a client assertion; the FHIR
door checks that token on every call and lets the client see and change only what belongs to
its organisations.

State lives in the database (server/store/client_models.py), so every worker and host agrees:
a revoked client, an expired token or a replayed `jti` is refused everywhere at once.
"""
from __future__ import annotations

import hashlib
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from server.store.client_models import ClientRow, ClientTokenRow, SubscriptionOwnerRow, UsedJtiRow

log = logging.getLogger(__name__)

# system/ scopes (SMART v2 syntax) and what each one opens.
SCOPE_SUBMIT = "system/Claim.c"                 # Claim/$submit
SCOPE_READ = "system/ClaimResponse.rs"          # Claim/$inquire, ClaimResponse read, order summary
SCOPE_SUBSCRIBE = "system/Subscription.crd"     # Subscription create, read, delete
SCOPES = (SCOPE_SUBMIT, SCOPE_READ, SCOPE_SUBSCRIBE)
PRIVATE_KEY_JWT = "private_key_jwt"            # the only client authentication method
DEFAULT_SCOPES = " ".join(SCOPES)
MAX_ORGANIZATIONS = 50


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_client_id() -> str:
    """A random client_id that never starts with '-': an id pasted after a command-line flag
    (`client_assertion.py sign --client-id ID`, the README's flow) must not read as an option."""
    return "c" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    jwks: dict | None
    jwks_url: str | None
    organizations: tuple[str, ...]
    scopes: tuple[str, ...]
    active: bool
    created_at: datetime

    # -- what Authlib's AuthorizationServer asks of a client (authlib ClientMixin) ---------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.scopes)
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri) -> bool:
        return False

    def check_client_secret(self, client_secret) -> bool:
        return False   # no shared secrets: private_key_jwt only

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return self.active and method == PRIVATE_KEY_JWT and endpoint == "token"

    def check_response_type(self, response_type) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return self.active and grant_type == "client_credentials"


@dataclass(frozen=True)
class ClientAccess:
    """Who is calling the FHIR door: a client, through one of its tokens."""
    client_id: str
    name: str
    organizations: frozenset[str]
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def _client(row: ClientRow) -> Client:
    return Client(row.client_id, row.name, row.jwks, row.jwks_url, tuple(row.organizations or ()),
                  tuple((row.scopes or "").split()), bool(row.active), _utc(row.created_at))


class ClientRegistry:
    """Persistence of clients, tokens, used jtis and subscription owners (one CaseStore engine)."""

    def __init__(self, store):
        self._uow = store.uow

    # -- clients --------------------------------------------------------------------------

    def register(self, *, name: str, organizations: list[str], jwks: dict | None = None,
                 jwks_url: str | None = None, scopes: list[str] | None = None,
                 now: datetime | None = None, audit: bool = True) -> Client:
        if not name or len(name) > 200:
            raise ValueError("a client name of 1-200 characters is required")
        orgs = [o.strip() for o in organizations if o and o.strip()]
        if not orgs:
            raise ValueError("at least one --organization-npi is required")
        if len(orgs) > MAX_ORGANIZATIONS or any(len(o) > 64 for o in orgs):
            raise ValueError(f"at most {MAX_ORGANIZATIONS} organisations of at most 64 characters")
        if (jwks is None) == (jwks_url is None):
            raise ValueError("give the client's public key set: a JWKS file or an https URL")
        if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list) and jwks["keys"]):
            raise ValueError("the key set is not a JWKS with at least one key")
        if jwks is not None and any(isinstance(k, dict) and ("d" in k or "p" in k) for k in jwks["keys"]):
            raise ValueError("the key set holds a private key: register the public keys only")
        chosen = scopes or list(SCOPES)
        unknown = [s for s in chosen if s not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        row = ClientRow(client_id=new_client_id(), name=name, jwks=jwks, jwks_url=jwks_url,
                        organizations=sorted(set(orgs)), scopes=" ".join(dict.fromkeys(chosen)), active=True,
                        created_at=now or utcnow())
        with self._uow() as uow:
            uow.session.add(row)
            if audit:
                uow.audit.record(actor="cli", action="client.register", entity="client", entity_id=row.client_id,
                                 after={"name": name, "organizations": row.organizations, "scopes": row.scopes})
            uow.commit()
            return _client(row)

    def get(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
            return None
        with self._uow(read_only=True) as uow:
            row = uow.session.get(ClientRow, client_id)
            return _client(row) if row else None

    def all(self) -> list[Client]:
        with self._uow(read_only=True) as uow:
            return [_client(r) for r in uow.session.scalars(select(ClientRow).order_by(ClientRow.created_at))]

    def revoke(self, client_id: str, *, now: datetime | None = None) -> bool:
        """Revoke a client and every token it holds (effective at once on every worker)."""
        with self._uow() as uow:
            row = uow.session.get(ClientRow, client_id)
            if row is None:
                return False
            row.active = False
            row.revoked_at = now or utcnow()
            uow.session.execute(delete(ClientTokenRow).where(ClientTokenRow.client_id == client_id))
            uow.audit.record(actor="cli", action="client.revoke", entity="client", entity_id=client_id)
            uow.commit()
            return True

    # -- access tokens ----------------------------------------------------------------------

    def save_token(self, token: str, client_id: str, scopes: str, *, now: datetime, expires_in: int) -> None:
        with self._uow() as uow:
            uow.session.add(ClientTokenRow(token_hash=token_hash(token), client_id=client_id, scopes=scopes,
                                           created_at=now, expires_at=now + timedelta(seconds=expires_in)))
            if random.random() < 0.02:   # now and then, forget tokens long expired
                uow.session.execute(delete(ClientTokenRow).where(ClientTokenRow.expires_at < now - timedelta(hours=1)))
            uow.commit()

    def access_for_token(self, token: str, *, now: datetime) -> ClientAccess | None:
        if not token or len(token) > 512:
            return None
        stmt = (select(ClientTokenRow.expires_at, ClientTokenRow.scopes, ClientRow.client_id, ClientRow.name,
                       ClientRow.organizations, ClientRow.active)
                .join(ClientRow, ClientRow.client_id == ClientTokenRow.client_id)
                .where(ClientTokenRow.token_hash == token_hash(token)))
        with self._uow(read_only=True) as uow:
            row = uow.session.execute(stmt).first()
        if row is None or not row.active or _utc(row.expires_at) <= now:
            return None
        return ClientAccess(row.client_id, row.name, frozenset(row.organizations or ()),
                            frozenset((row.scopes or "").split()))

    # -- jti: single use, shared by every worker and host -----------------------------------

    def first_use(self, issuer: str, jti: str, *, expires_at: datetime, now: datetime | None = None) -> bool:
        """True the first time (issuer, jti) is seen before it expires; False for a replay."""
        now = now or utcnow()
        key = hashlib.sha256(f"{issuer}\x00{jti}".encode("utf-8", "surrogatepass")).hexdigest()
        with self._uow() as uow:
            existing = uow.session.get(UsedJtiRow, key)
            if existing is not None:
                if _utc(existing.expires_at) > now:
                    return False
                existing.expires_at = expires_at   # long expired: a new token may reuse the value
                uow.commit()
                return True
            uow.session.add(UsedJtiRow(key=key, expires_at=expires_at))
            if random.random() < 0.02:
                uow.session.execute(delete(UsedJtiRow).where(UsedJtiRow.expires_at < now))
            try:
                uow.commit()
            except IntegrityError:   # another worker took it at the same moment: a replay
                return False
            return True

    # -- subscription owners ----------------------------------------------------------------

    def set_subscription_owner(self, subscription_id: str, client_id: str) -> None:
        with self._uow() as uow:
            uow.session.add(SubscriptionOwnerRow(subscription_id=subscription_id, client_id=client_id))
            uow.commit()

    def subscription_owner(self, subscription_id: str) -> str | None:
        with self._uow(read_only=True) as uow:
            row = uow.session.get(SubscriptionOwnerRow, subscription_id)
            return row.client_id if row else None


class DatabaseJtiCache:
    """The CDS Hooks verifier's replay cache (server/security/jwt.py), in the database."""

    def __init__(self, registry: ClientRegistry):
        self.registry = registry

    def first_use(self, iss: str, jti: str, exp: float) -> bool:
        from server.security.jwt import LEEWAY_SECONDS
        expires = datetime.fromtimestamp(exp + LEEWAY_SECONDS, timezone.utc)
        return self.registry.first_use(f"cds:{iss}", jti, expires_at=expires)
