"""SMART Backend Services endpoints for B2B clients of the FHIR door.

- `GET  /.well-known/smart-configuration` — token endpoint, grant type, client auth method
  (private_key_jwt), signing algorithms (RS384, ES384) and the `system/` scopes offered.
- `POST /oauth/token` — `grant_type=client_credentials`, `client_assertion_type=
  urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, `client_assertion=<signed JWT>`,
  optional `scope`; answers `{"access_token", "token_type": "Bearer", "expires_in", "scope"}`
  or an OAuth 2.0 error (`invalid_client`, `invalid_scope`, ...). Throttled per address.
See server/security/smart_auth.py for the checks.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify

from server.security import smart_auth
from server.security.clients import SCOPES
from server.security.throttle import throttle
from server.store.extension import get_store

log = logging.getLogger(__name__)
bp = Blueprint("smart", __name__)


@bp.get("/.well-known/smart-configuration")
def smart_configuration():
    resp = jsonify({
        "token_endpoint": smart_auth.token_url(),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": [smart_auth.PRIVATE_KEY_JWT],
        "token_endpoint_auth_signing_alg_values_supported": list(smart_auth.ALLOWED_ALGORITHMS),
        "scopes_supported": list(SCOPES),
        "capabilities": ["client-confidential-asymmetric"],
    })
    return resp


@bp.post("/oauth/token")
def token():
    throttle().token_request()
    resp = current_app.extensions[smart_auth.SERVER_KEY].create_token_response()
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


def init_app(app: Flask) -> None:
    smart_auth.init_app(app, get_store(app))
    if not smart_auth.auth_required(app):
        log.warning("FHIR door OPEN (FHIR_AUTH_REQUIRED=0): $submit, $inquire, ClaimResponse and Subscription "
                    "accept calls without an access token and trust the NPI in the request. Development only.")
    app.register_blueprint(bp)
