"""SMART Backend Services token endpoint (Authlib) and the access check of the FHIR door.

Token endpoint (`POST /oauth/token`, RFC 6749 client_credentials + RFC 7523 private_key_jwt
client assertion, as SMART App Launch 2 "Backend Services" profiles them), built on Authlib's
AuthorizationServer, ClientCredentialsGrant and JWTBearerClientAssertion. On top of what Authlib
checks (signature, iss = sub = a registered client, aud, exp, jti present), we require:
- alg RS384 or ES384 only (never `none`, HMAC or others);
- the assertion lives at most ASSERTION_MAX_LIFETIME seconds (SMART: exp no more than five
  minutes in the future);
- aud is exactly this server's token URL (PUBLIC_BASE_URL + /oauth/token);
- a `jku` header, if present, is the key set URL the client was registered with;
- the jti is used once, in the database (all workers and hosts).
Access tokens are random, live CLIENT_TOKEN_TTL seconds (default 300) and are stored as SHA-256.

Resource side: `require_client(scope)` reads `Authorization: Bearer <token>` (the scheme in
any case), and returns the ClientAccess (its organisations), or raises 401 / 403. When the
FHIR door is open (FHIR_AUTH_REQUIRED=0, development only) it returns None.
"""
from __future__ import annotations

import logging
import threading
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Flask, current_app, g, request
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from server.errors import Forbidden, Issue, Unauthorized
from server.security.clients import PRIVATE_KEY_JWT, SCOPES, ClientAccess, ClientRegistry, utcnow
from server.security.jwt import JwksCache

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS384", "ES384")
ASSERTION_MAX_LIFETIME = 300
LEEWAY_SECONDS = 30
REGISTRY_KEY = "oncopath.clients"
SERVER_KEY = "oncopath.oauth"


def registry(app: Flask | None = None) -> ClientRegistry:
    return (app or current_app).extensions[REGISTRY_KEY]


def token_url(app: Flask | None = None) -> str:
    app = app or current_app
    return public_base(app) + "/oauth/token"


def public_base(app: Flask | None = None) -> str:
    """PUBLIC_BASE_URL, never the Host header; under TESTING without one, http://localhost
    (the Flask test client's host)."""
    app = app or current_app
    base = app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/")
    return "http://localhost"


class PrivateKeyJwtAssertion(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, app: Flask):
        super().__init__(validate_jti=True, leeway=LEEWAY_SECONDS)
        self.app = app
        self.jwks = JwksCache(float(app.config.get("FHIR_FETCH_TIMEOUT", 3.0)))
        self._local = threading.local()   # the assertion's header, per request thread

    def get_audiences(self):
        return [token_url(self.app)]

    def extract_assertion(self, assertion: str):
        headers, claims = super().extract_assertion(assertion)
        if headers.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidClientError(description=f"client assertion alg must be one of {', '.join(ALLOWED_ALGORITHMS)}")
        if not headers.get("kid"):
            raise InvalidClientError(description="client assertion header has no kid")
        self._local.headers = headers
        return headers, claims

    def resolve_client_public_key(self, client):
        jku = getattr(self._local, "headers", {}).get("jku")
        if client.jwks is not None:
            if jku is not None:
                raise InvalidClientError(description="client assertion jku: this client has no registered key set URL")
            data = client.jwks
        else:
            if jku is not None and jku != client.jwks_url:
                raise InvalidClientError(description="client assertion jku is not the client's registered key set URL")
            try:
                data = self.jwks.keys(client.jwks_url)
            except Unauthorized:
                raise InvalidClientError(description="the client's key set could not be read") from None
        try:
            keys = [k for k in data.get("keys", []) if isinstance(k, dict) and "d" not in k]
            return KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError, KeyError):
            raise InvalidClientError(description="the client's key set is unusable") from None

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jose_jwt.decode(assertion, resolve_key, algorithms=list(ALLOWED_ALGORITHMS))
        except JoseError as exc:
            raise InvalidClientError(description=f"client assertion rejected: {exc.error}") from None
        claims = token.claims
        now = time.time()
        for name in ("exp", "iat"):
            value = claims.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise InvalidClientError(description=f"client assertion {name} must be a number")
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp > now + ASSERTION_MAX_LIFETIME + LEEWAY_SECONDS:
            raise InvalidClientError(description=f"client assertion exp is more than {ASSERTION_MAX_LIFETIME} "
                                                 "seconds ahead")
        if not isinstance(claims.get("jti"), str) or not claims["jti"] or len(claims["jti"]) > 256:
            raise InvalidClientError(description="client assertion jti must be a string of 1-256 characters")
        self.verify_claims(claims)
        return claims

    def validate_jti(self, claims, jti):
        from datetime import datetime, timezone
        expires = datetime.fromtimestamp(float(claims["exp"]) + LEEWAY_SECONDS, timezone.utc)
        return registry(self.app).first_use(f"client:{claims['iss']}", jti, expires_at=expires)


class BackendServicesGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [PRIVATE_KEY_JWT]

    def validate_token_request(self):
        super().validate_token_request()
        requested = (self.request.payload.scope or "").split()
        allowed = set(self.request.client.get_allowed_scope(" ".join(requested)).split())
        if any(s not in allowed for s in requested):
            raise InvalidScopeError(description="the client is not registered for every scope asked for")


def init_app(app: Flask, store) -> None:
    reg = ClientRegistry(store)
    app.extensions[REGISTRY_KEY] = reg
    ttl = int(app.config.get("CLIENT_TOKEN_TTL", 300))
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"client_credentials": ttl})
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": ttl}

    def query_client(client_id):
        client = reg.get(client_id)
        return client if client is not None and client.active else None

    def save_token(token: dict, oauth_request):
        reg.save_token(token["access_token"], oauth_request.client.client_id, token.get("scope") or "",
                       now=utcnow(), expires_in=int(token.get("expires_in", ttl)))

    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.scopes_supported = list(SCOPES)
    server.register_grant(BackendServicesGrant)
    server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJwtAssertion(app))
    app.extensions[SERVER_KEY] = server


def auth_required(app: Flask | None = None) -> bool:
    return bool((app or current_app).config.get("FHIR_AUTH_REQUIRED", True))


def _unauthorized(message: str) -> Unauthorized:
    err = Unauthorized(Issue("login", message))
    err.headers = {"WWW-Authenticate": 'Bearer realm="oncopath", error="invalid_token"'}
    return err


def bearer_token() -> str | None:
    """The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235)."""
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_from_token() -> ClientAccess | None:
    """The client a bearer token belongs to, if the token is a client access token."""
    token = bearer_token()
    if token is None:
        return None
    return registry().access_for_token(token, now=utcnow())


def require_client(scope: str) -> ClientAccess | None:
    """The calling client, checked for `scope`; None when the FHIR door is open (dev)."""
    if not auth_required():
        return None
    token = bearer_token()
    if token is None:
        raise _unauthorized("a Bearer access token is required: POST /oauth/token with a signed client "
                            "assertion (SMART Backend Services; see /.well-known/smart-configuration)")
    access = registry().access_for_token(token, now=utcnow())
    if access is None:
        raise _unauthorized("the access token is unknown, expired or revoked")
    if not access.may(scope):
        raise Forbidden(Issue("forbidden", f"the access token lacks the scope {scope}"))
    g.fhir_client = access
    return access
