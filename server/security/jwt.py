"""Verify the `Authorization: Bearer <JWT>` a CDS client sends with each call.

Rules (CDS Hooks 2.0): the issuer must be allow-listed (`CDS_TRUSTED_ISSUERS` maps iss to a
JWKS file path or URL, or to {"jku": url, "jwks": file-or-url, "fhir_servers": [base URL, ...]}
to pin a published key set and name the FHIR servers its calls may point `fhirServer` at); the
key is found by `kid`; only ES384 and RS384 (never `none` or HMAC); `aud` is the exact URL
called (from PUBLIC_BASE_URL, never the Host header); `exp` is required, not past and at most
`max_lifetime` seconds ahead; `iat` not in the future; each `jti` is accepted once. A `jku`
header, if present, must be the JWKS URL configured for the iss. The scheme `Bearer` is
matched in any case (RFC 7235).

The jti replay cache given by the app is the database (server/security/clients.py), shared by
every worker and host; `JtiCache` (in-process) remains for use without a store.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import jwt as pyjwt
import requests

from server.errors import Issue, Unauthorized

ALLOWED_ALGORITHMS = ("ES384", "RS384")
LEEWAY_SECONDS = 30
JWKS_TTL_SECONDS = 3600


def _reject(message: str) -> Unauthorized:
    return Unauthorized(Issue("login", message))


class JwksCache:
    """Issuer JWKS from a file or URL, kept for an hour (a refresh is tried on an unknown kid)."""

    def __init__(self, timeout: float = 3.0):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict]] = {}

    def keys(self, source: str, *, refresh: bool = False) -> dict:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(source)
            # A refresh (unknown kid) is allowed once a minute, so bad kids cannot hammer the issuer.
            if hit and now - hit[0] < (60 if refresh else JWKS_TTL_SECONDS):
                return hit[1]
        jwks = self._load(source)
        with self._lock:
            self._cache[source] = (now, jwks)
        return jwks

    def _load(self, source: str) -> dict:
        try:
            if source.startswith(("http://", "https://")):
                resp = requests.get(source, timeout=self.timeout)
                resp.raise_for_status()
                jwks = resp.json()
            else:
                with open(source, encoding="utf-8") as fh:
                    jwks = json.load(fh)
        except (OSError, ValueError, requests.RequestException) as exc:
            raise _reject(f"the issuer's key set could not be read ({type(exc).__name__})") from None
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise _reject("the issuer's key set is not a JWKS")
        return jwks


class JtiCache:
    """Seen `jti` values until their token expires (in-process; see the module note)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def first_use(self, iss: str, jti: str, exp: float) -> bool:
        now = time.time()
        key = f"{iss}\x00{jti}"
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            if key in self._seen and self._seen[key] > now - LEEWAY_SECONDS:
                return False
            self._seen[key] = exp + LEEWAY_SECONDS
            return True


@dataclass(frozen=True)
class VerifiedClient:
    iss: str
    sub: str | None
    tenant: str | None
    jti: str
    fhir_servers: tuple[str, ...] = ()    # the fhirServer base URLs this issuer may name


def _issuer_keys(entry: str | dict) -> tuple[str, str | None]:
    """(where to read the JWKS, the jku the issuer may name). An entry is the JWKS URL (also its
    jku) or file, or {"jku": url, "jwks": file-or-url} to pin a key set the issuer publishes at
    `jku` to a local copy (offline, or to avoid trusting a live fetch)."""
    if isinstance(entry, dict):
        return entry.get("jwks") or entry.get("jku"), entry.get("jku")
    return entry, entry


def _fhir_servers(entry: str | dict) -> tuple[str, ...]:
    servers = entry.get("fhir_servers") if isinstance(entry, dict) else None
    return tuple(s for s in servers if isinstance(s, str)) if isinstance(servers, list) else ()


class CdsJwtVerifier:
    def __init__(self, trusted_issuers: dict[str, str | dict], *, timeout: float = 3.0, jtis=None,
                 max_lifetime: float = 300.0):
        self.trusted_issuers = dict(trusted_issuers or {})
        self.jwks = JwksCache(timeout)
        self.jtis = jtis or JtiCache()
        self.max_lifetime = float(max_lifetime)

    def verify(self, authorization: str | None, audience: str) -> VerifiedClient:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _reject("a Bearer JWT is required (Authorization header)")
        try:
            header = pyjwt.get_unverified_header(token)
            claims = pyjwt.decode(token, options={"verify_signature": False})
        except pyjwt.PyJWTError:
            raise _reject("the bearer token is not a JWT") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise _reject(f"JWT alg {alg!r} is not allowed; use ES384 or RS384")
        kid = header.get("kid")
        if not kid:
            raise _reject("JWT header has no kid")
        iss = claims.get("iss")
        entry = self.trusted_issuers.get(iss) if isinstance(iss, str) else None
        if entry is None:
            raise _reject("JWT issuer is not trusted")
        source, expected_jku = _issuer_keys(entry)
        jku = header.get("jku")
        if jku is not None and jku != expected_jku:
            raise _reject("JWT jku is not the key set registered for this issuer")
        key = self._key(source, kid, alg)
        try:
            verified = pyjwt.decode(
                token, key=key, algorithms=[alg], audience=audience, issuer=iss, leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]})
        except pyjwt.ExpiredSignatureError:
            raise _reject("JWT has expired") from None
        except pyjwt.ImmatureSignatureError:
            raise _reject("JWT iat or nbf is in the future") from None
        except pyjwt.InvalidAudienceError:
            raise _reject(f"JWT aud must be the URL called: {audience}") from None
        except pyjwt.MissingRequiredClaimError as exc:
            raise _reject(f"JWT lacks the {exc.claim} claim") from None
        except pyjwt.PyJWTError as exc:
            raise _reject(f"JWT rejected: {type(exc).__name__}") from None
        exp = verified["exp"]
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) \
                or exp > time.time() + self.max_lifetime + LEEWAY_SECONDS:
            raise _reject(f"JWT exp is more than {int(self.max_lifetime)} seconds ahead (CDS_JWT_MAX_LIFETIME)")
        jti = verified["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise _reject("JWT jti must be a string of 1-256 characters")
        if not self.jtis.first_use(iss, jti, float(exp)):
            raise _reject("JWT jti was already used")
        return VerifiedClient(iss=iss, sub=verified.get("sub"), tenant=verified.get("tenant"), jti=jti,
                              fhir_servers=_fhir_servers(entry))

    def _key(self, source: str, kid: str, alg: str):
        for refresh in (False, True):
            for jwk in self.jwks.keys(source, refresh=refresh).get("keys", []):
                if isinstance(jwk, dict) and jwk.get("kid") == kid:
                    if jwk.get("kty") not in ({"ES384": "EC", "RS384": "RSA"}[alg],):
                        raise _reject("JWT key type does not match its alg")
                    try:
                        return pyjwt.PyJWK(jwk, algorithm=alg).key
                    except pyjwt.PyJWTError:
                        raise _reject("the issuer's key for this kid is unusable") from None
        raise _reject("JWT kid is not in the issuer's key set")
