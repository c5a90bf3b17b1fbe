"""`oncopath serve --sandbox` (or ONCOPATH_SANDBOX=1): what the command does before the server starts.

- sets the environment every worker reads: SANDBOX on; the database `var/sandbox.db` unless
  --database-url / ONCOPATH_DATABASE_URL names one (never the development default); CDS Hooks JWT verification off unless
  set (ONCOPATH_CDS_JWT_REQUIRED=1 to try a client's JWTs); the FHIR door stays closed, as in
  production (the demo client gets tokens); PUBLIC_BASE_URL defaults to http://<host>:<port> on
  a loopback host; on a loopback host, outbound calls may reach loopback too (a tester's local
  notification endpoint, the sandbox's own FHIR surface as `fhirServer`);
- marks or refuses the database (server/sandbox/demo.py) ONCE, before gunicorn forks, and
  creates the demo client and reviewer;
- prints the demo credentials and the catalogue's URL.

`refuse_public_sandbox_issuer` applies to every `oncopath serve`: the public CDS Hooks
Sandbox's private signing key is published, so trusting its issuer lets anyone on the network
sign as it; it is accepted only in sandbox mode on a loopback host.
"""
from __future__ import annotations

import ipaddress
import json
import os
import sys

PUBLIC_SANDBOX_ISSUERS = ("https://sandbox.cds-hooks.org",)
LOOPBACK_NETWORKS = ["127.0.0.0/8", "::1/128"]
SANDBOX_DATABASE_URL = "sqlite:///var/sandbox.db"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_public_sandbox_issuer(settings: dict, host: str) -> str | None:
    trusted = settings.get("CDS_TRUSTED_ISSUERS") or {}
    named = [i for i in trusted if str(i).rstrip("/") in PUBLIC_SANDBOX_ISSUERS]
    if named and not (settings.get("SANDBOX") and is_loopback(host)):
        return (f"oncopath: CDS_TRUSTED_ISSUERS trusts {', '.join(named)}, whose private signing key is public "
                "(anyone can sign its JWTs); that is allowed only in sandbox mode (--sandbox) on a loopback "
                "--host (127.0.0.1), never on a host others can reach")
    return None


def refuse_sandbox_database(database_url: str | None) -> str | None:
    """Not in sandbox mode: a sandbox's database is refused before gunicorn starts (exit 2)."""
    from server import config
    from server.sandbox import demo
    from server.store import CaseStore

    store = CaseStore.from_url(database_url or {**config.DEFAULTS, **config.from_environment()}["DATABASE_URL"])
    try:
        demo.refuse_outside_sandbox_mode(store)
    except demo.SandboxRefused as err:
        return f"oncopath: {err}"
    finally:
        store.dispose()
    return None


def prepare(args) -> int | None:
    """Set the sandbox up; a non-None return is the exit code (refused)."""
    from server import config
    from server.sandbox import demo
    from server.store import CaseStore

    os.environ["ONCOPATH_SANDBOX"] = "1"
    # Its own database unless told otherwise: the default one is the development service's.
    os.environ.setdefault("ONCOPATH_DATABASE_URL", SANDBOX_DATABASE_URL)
    os.environ.setdefault("ONCOPATH_CDS_JWT_REQUIRED", "0")
    loopback = is_loopback(args.host)
    if loopback:
        os.environ.setdefault("ONCOPATH_PUBLIC_BASE_URL", f"http://{args.host}:{args.port}")
        allowed = json.loads(os.environ.get("ONCOPATH_OUTBOUND_ALLOWED_NETWORKS") or "[]")
        os.environ["ONCOPATH_OUTBOUND_ALLOWED_NETWORKS"] = json.dumps(
            allowed + [n for n in LOOPBACK_NETWORKS if n not in allowed])
    settings = {**config.DEFAULTS, **config.from_environment()}
    try:
        demo.fixtures_dir(settings)
        store = CaseStore.from_url(settings["DATABASE_URL"])
        try:
            demo.prepare_database(store, settings)
        finally:
            store.dispose()
    except demo.SandboxRefused as err:
        print(f"oncopath: {err}", file=sys.stderr)
        return 2
    base = (settings.get("PUBLIC_BASE_URL") or f"http://{args.host}:{args.port}").rstrip("/")
    print("oncopath: SANDBOX MODE (demo data only; the demo key below is public)\n"
          f"  scenario catalogue: {base}/sandbox\n"
          f"  demo FHIR client:   client_id {demo.CLIENT_ID}, ES384 private key {demo.CLIENT_KEY_FILE} "
          f"(also {base}/sandbox/demo-client-key.pem), token URL {base}/oauth/token\n"
          f"  demo reviewer:      {demo.REVIEWER['username']} / {demo.REVIEWER['password']} ({demo.REVIEWER['role']})\n"
          f"  gateway flow:       python scripts/sandbox_gateway_flow.py --base {base}",
          file=sys.stderr)
    if not loopback:
        print("oncopath: sandbox on a non-loopback host: outbound calls stay limited to public addresses",
              file=sys.stderr)
    return None
