"""Configuration: defaults -> environment (ONCOPATH_*) -> test dict (Flask tutorial style)."""
from __future__ import annotations

import os

DEFAULTS = {
    # Embedded default: a SQLite file under ./var (WAL). A PostgreSQL URL is the scale-out path.
    "DATABASE_URL": "sqlite:///var/oncopath.db",
    # Directory of knowledge-base YAML files; None = the bundled knowledge base.
    "KNOWLEDGE_DIR": None,
    # CDS Hooks JWT verification. Off only in development (see README, "Security").
    "CDS_JWT_REQUIRED": True,
    # JSON object {issuer: jwks-file-path-or-url}
    "CDS_TRUSTED_ISSUERS": {},
    # Public base URL of this service: the expected JWT `aud` (CDS Hooks calls and client
    # assertions) and absolute links. Required when CDS_JWT_REQUIRED or FHIR_AUTH_REQUIRED is on
    # (the Host header is never trusted for `aud`); under TESTING it defaults to http://localhost.
    "PUBLIC_BASE_URL": None,
    # A CDS Hooks JWT may live at most this many seconds (exp - now); longer ones are refused.
    "CDS_JWT_MAX_LIFETIME": 300,
    # SMART Backend Services on the FHIR door ($submit, $inquire, ClaimResponse, Subscription,
    # the order summary API). Off only in development (`make serve`, `--dev`), and logged.
    "FHIR_AUTH_REQUIRED": True,
    # Seconds an access token from POST /oauth/token lives.
    "CLIENT_TOKEN_TTL": 300,
    # Outbound calls (fhirServer reads, JWKS, Subscription notifications) never go to private,
    # loopback, link-local or other non-public addresses, unless allowed here: a JSON list of
    # networks, e.g. ["127.0.0.1/32"] for local testing. Redirects to another origin are refused.
    "OUTBOUND_ALLOWED_NETWORKS": [],
    # Longest identifier accepted where one is stored (hookInstance, Claim identifier, member
    # ids, NPIs, ...): longer ones are a 400, not a database error.
    "MAX_IDENTIFIER_LENGTH": 256,
    # Sign-in throttling (failed attempts, moving window; `limits` syntax) and its storage.
    "LOGIN_LIMIT_PER_USER": "10/15minutes",
    "LOGIN_LIMIT_PER_ADDRESS": "50/15minutes",
    "TOKEN_LIMIT_PER_ADDRESS": "60/minute",
    "THROTTLE_STORAGE_URI": "memory://",
    "PAYER_NAME": "oncopath demo health plan",
    # How a clinician reaches a reviewer (peer-to-peer) and the pharmacy benefit manager: shown
    # on the cards. Demo defaults use fictional 555-01xx numbers; set the plan's real lines.
    "PAYER_REVIEW_CONTACT": "the oncology review line, 1-800-555-0134 (Mon–Fri 8 am–6 pm ET)",
    "PHARMACY_BENEFIT_CONTACT": "the plan's pharmacy benefit manager (PBM), 1-800-555-0178",
    # Outbound FHIR reads (missing prefetch): a deadline in seconds for each read as a whole
    # (connect + the complete body), and a cap on the bytes of one response (read streamed).
    "FHIR_FETCH_TIMEOUT": 3.0,
    "FHIR_FETCH_MAX_BYTES": 5 * 1024 * 1024,
    # Request limits (server/http/limits.py), each answered with a 413 OperationOutcome:
    # body bytes, JSON nesting depth, and entries in one Bundle (PAS request, draftOrders,
    # each prefetched Bundle).
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    "MAX_JSON_DEPTH": 64,
    "MAX_BUNDLE_ENTRIES": 1000,
    "DEV": False,
    # Sandbox mode for testers of PAS / CRD clients (server/sandbox): demo client, reviewer and
    # patients, the scenario catalogue at /sandbox and a tester endpoint. Never on by default;
    # refused on a database holding anything but sandbox data.
    "SANDBOX": False,
    # Where sandbox mode reads the request fixtures (default: fixtures/ of the checkout).
    "SANDBOX_FIXTURES_DIR": None,
    # GET /metrics on the service's port answers only this bearer token (none: /metrics is a 404
    # there; `oncopath serve --metrics-port` serves it on a separate, loopback address instead).
    "METRICS_TOKEN": None,
}

_ENV_TYPES = {bool: lambda v: v.strip().lower() in ("1", "true", "yes", "on"), float: float, int: int}


def from_environment(environ=os.environ) -> dict:
    """Read ONCOPATH_<KEY> variables, typed like their defaults."""
    import json

    out = {}
    for key, default in DEFAULTS.items():
        raw = environ.get(f"ONCOPATH_{key}")
        if raw is None:
            continue
        if isinstance(default, (dict, list)):
            out[key] = json.loads(raw)
        else:
            out[key] = _ENV_TYPES.get(type(default), str)(raw)
    return out
