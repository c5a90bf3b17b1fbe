"""`oncopath client register|list|revoke`: the SMART Backend Services client registry.

    oncopath client register --name NAME --jwks FILE_OR_URL --organization-npi NPI
                             [--organization-npi NPI ...] [--scope SCOPE ...] [--database-url URL]
    oncopath client list [--database-url URL]
    oncopath client revoke CLIENT_ID [--database-url URL]

`register` prints the new client id alone on its last line (scripts take it with `tail -1`).
`--jwks` is a file holding the client's PUBLIC key set (a JWKS, or one public JWK), or the
https URL where the client publishes it. Private keys are refused."""
from __future__ import annotations

import json
import sys

from server.security.clients import SCOPES, ClientRegistry


def _registry(database_url: str | None) -> tuple[ClientRegistry, object]:
    from server import config
    from server.store import CaseStore

    url = database_url or config.from_environment().get("DATABASE_URL") or config.DEFAULTS["DATABASE_URL"]
    store = CaseStore.from_url(url)
    return ClientRegistry(store), store


def _read_jwks(source: str) -> tuple[dict | None, str | None]:
    if source.startswith("https://") or source.startswith("http://"):
        return None, source
    with open(source, encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, dict) and "keys" not in data and "kty" in data:
        data = {"keys": [data]}
    return data, None


def register(args) -> int:
    try:
        jwks, jwks_url = _read_jwks(args.jwks)
    except (OSError, ValueError) as exc:
        print(f"cannot read the key set {args.jwks}: {exc}", file=sys.stderr)
        return 2
    registry, store = _registry(args.database_url)
    try:
        client = registry.register(name=args.name, organizations=args.organization_npi or [], jwks=jwks,
                                   jwks_url=jwks_url, scopes=args.scope or None)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        store.dispose()
    print(f"registered client {client.name!r} for organisation(s) {', '.join(client.organizations)} "
          f"with scopes {' '.join(client.scopes)}")
    print(client.client_id)
    return 0


def list_clients(args) -> int:
    registry, store = _registry(args.database_url)
    try:
        for c in registry.all():
            state = "active" if c.active else "revoked"
            print(f"{c.client_id}\t{state}\t{c.name}\t{','.join(c.organizations)}\t{' '.join(c.scopes)}")
    finally:
        store.dispose()
    return 0


def revoke(args) -> int:
    registry, store = _registry(args.database_url)
    try:
        if not registry.revoke(args.client_id):
            print(f"no client {args.client_id}", file=sys.stderr)
            return 1
    finally:
        store.dispose()
    print(f"revoked client {args.client_id} and its access tokens")
    return 0


def add_parser(sub) -> None:
    client = sub.add_parser("client", help="manage B2B (SMART Backend Services) clients of the FHIR door")
    csub = client.add_subparsers(dest="client_command", required=True)
    reg = csub.add_parser("register", help="register a client; prints its id on the last line")
    reg.add_argument("--name", required=True)
    reg.add_argument("--jwks", required=True, help="file with the client's public JWKS, or its https URL")
    reg.add_argument("--organization-npi", action="append", required=True,
                     help="an organisation (NPI) the client acts for; repeat for several")
    reg.add_argument("--scope", action="append", choices=list(SCOPES),
                     help="a system/ scope it may ask for; repeat; default: all")
    reg.add_argument("--database-url", default=None)
    lst = csub.add_parser("list", help="list clients")
    lst.add_argument("--database-url", default=None)
    rev = csub.add_parser("revoke", help="revoke a client and its tokens")
    rev.add_argument("client_id")
    rev.add_argument("--database-url", default=None)


def run(args) -> int:
    return {"register": register, "list": list_clients, "revoke": revoke}[args.client_command](args)
