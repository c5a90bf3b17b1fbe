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
    # Public base URL of this service, used for JWT `aud` and links; None = from the request.
    "PUBLIC_BASE_URL": None,
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
        if isinstance(default, dict):
            out[key] = json.loads(raw)
        else:
            out[key] = _ENV_TYPES.get(type(default), str)(raw)
    return out
