"""The sandbox's database: marked as a sandbox, or refused; the demo client and reviewer.

The demo credentials are public ON PURPOSE (README, "Testing your client against oncopath"):
a sandbox holds only demo data, and `prepare_database` refuses any database that holds
anything else, so the published key opens nothing real.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

HERE = Path(__file__).resolve().parent
CLIENT_ID = "oncopath-sandbox-client"
CLIENT_NAME = "oncopath sandbox demo client (published key)"
CLIENT_KEY_FILE = HERE / "demo-client-key.pem"
REVIEWER = {"username": "sandbox-physician", "password": "sandbox-reviewer-passphrase", "role": "physician"}
MARK_ACTION = "sandbox.database"
MARK_ENTITY = "database"
# The official PAS 2.2.1 examples' providers (their NPIs), so a tester can replay those
# examples with the demo client; the fixtures' NPIs are read from the fixtures themselves.
PAS_EXAMPLE_NPIS = ("8189991234", "9988776651", "1122334455", "2345123675", "5566778895", "1265710008", "789312")


class SandboxRefused(RuntimeError):
    """The database holds data that is not the sandbox's: sandbox mode must not start on it."""


def private_key_pem() -> bytes:
    return CLIENT_KEY_FILE.read_bytes()


def public_jwks() -> dict:
    """The demo client's public key set (RFC 7638 thumbprint as kid, as scripts/client_assertion.py makes)."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import ECAlgorithm

    public = serialization.load_pem_private_key(private_key_pem(), password=None).public_key()
    jwk = json.loads(ECAlgorithm.to_jwk(public))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return {"keys": [{**jwk, "kid": kid, "alg": "ES384", "use": "sig"}]}


def organizations(fixtures_dir: Path) -> list[str]:
    """The demo client's organisations: every NPI the request fixtures name, and the official
    PAS examples' providers."""
    from mappings.sandbox import npis_in

    found = set(PAS_EXAMPLE_NPIS)
    for path in sorted(fixtures_dir.glob("*/*.json")):
        found |= npis_in(json.loads(path.read_text()))
    return sorted(found)


def _foreign_rows(uow) -> dict[str, int]:
    """Rows a fresh sandbox would not have: any at all, before the mark is written."""
    from server.store.client_models import ClientRow
    from server.store.models import AuditRow, CaseRow, FeedbackRow
    from server.store.review_models import ReviewerRow, SubscriptionRow

    counts = {m.__tablename__: uow.count(m) for m in (CaseRow, ClientRow, ReviewerRow, SubscriptionRow,
                                                     FeedbackRow, AuditRow)}
    return {k: v for k, v in counts.items() if v}


def _is_marked(uow) -> bool:
    from server.store.models import AuditRow

    stmt = select(func.count()).select_from(AuditRow).where(AuditRow.action == MARK_ACTION,
                                                            AuditRow.entity == MARK_ENTITY)
    return bool(uow.session.scalar(stmt))


def is_sandbox_database(store) -> bool:
    with store.uow(read_only=True) as uow:
        return _is_marked(uow)


def refuse_outside_sandbox_mode(store) -> None:
    """A sandbox's database holds a client whose private key is published: an instance that is
    not in sandbox mode must not serve it."""
    if is_sandbox_database(store):
        raise SandboxRefused("this database is a sandbox's (its demo client's private key is published): "
                             "serve it only with --sandbox (ONCOPATH_SANDBOX=1), or use another database")


def mark_or_refuse(store) -> bool:
    """True if the database already was a sandbox; marks an empty one; raises SandboxRefused
    for one with other data."""
    with store.uow() as uow:
        if _is_marked(uow):
            return True
        foreign = _foreign_rows(uow)
        if foreign:
            raise SandboxRefused(
                "sandbox mode refused: the database holds data that is not a sandbox's ("
                + ", ".join(f"{n} {t}" for t, n in sorted(foreign.items()))
                + "). Sandbox mode publishes a demo key and a tester endpoint that decides cases; "
                  "start it on a new, empty database (e.g. --database-url sqlite:///var/sandbox.db)")
        uow.audit.record(actor="sandbox", action=MARK_ACTION, entity=MARK_ENTITY, entity_id="sandbox",
                         after={"markedAt": datetime.now(timezone.utc).isoformat()})
        uow.commit()
        return False


def seed(store, fixtures_dir: Path) -> None:
    """The demo client and reviewer, unless they exist (every worker calls this)."""
    from server.review import accounts
    from server.security.clients import SCOPES
    from server.store.client_models import ClientRow
    from server.store.review import ReviewStore

    orgs = organizations(fixtures_dir)
    now = datetime.now(timezone.utc)
    with store.uow() as uow:
        if uow.session.get(ClientRow, CLIENT_ID) is None:
            uow.session.add(ClientRow(client_id=CLIENT_ID, name=CLIENT_NAME, jwks=public_jwks(), jwks_url=None,
                                      organizations=orgs, scopes=" ".join(SCOPES), active=True,
                                      created_at=now))
            uow.audit.record(actor="sandbox", action="client.register", entity="client", entity_id=CLIENT_ID,
                             after={"name": CLIENT_NAME, "organizations": orgs})
            try:
                uow.commit()
            except Exception:     # another worker created it first
                uow.session.rollback()
    reviews = ReviewStore(store)
    if reviews.reviewer_by_username(REVIEWER["username"]) is None:
        from server.errors import Conflict

        try:
            reviews.add_reviewer(REVIEWER["username"], REVIEWER["role"], accounts.hash_password(REVIEWER["password"]),
                                 now=now, actor="sandbox")
        except Conflict:
            pass


def default_fixtures_dir() -> Path:
    return HERE.parents[1] / "fixtures"


def fixtures_dir(config) -> Path:
    path = Path(config.get("SANDBOX_FIXTURES_DIR") or default_fixtures_dir())
    if not (path / "pas").is_dir() or not (path / "hooks").is_dir():
        raise SandboxRefused(f"sandbox mode needs the request fixtures (fixtures/pas, fixtures/hooks of a checkout); "
                             f"{path} has none: set ONCOPATH_SANDBOX_FIXTURES_DIR")
    return path


def prepare_database(store, config) -> None:
    """Mark (or refuse) the database and create the demo client and reviewer."""
    directory = fixtures_dir(config)
    mark_or_refuse(store)
    seed(store, directory)
