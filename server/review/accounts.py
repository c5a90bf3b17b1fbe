"""Reviewer credentials: scrypt password hashes with a per-password salt, and opaque bearer
tokens (random, stored only as SHA-256, with an expiry). No default password exists anywhere:
the first reviewer is created with `oncopath reviewer create`."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from server.review.workflow import Role

_N, _R, _P = 2 ** 14, 8, 1
MIN_PASSWORD_LENGTH = 12
TOKEN_TTL_SECONDS = 8 * 3600
REVIEWER_ROLES = (Role.NURSE.value, Role.PHYSICIAN.value)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def check_new_password(password: str | None) -> str | None:
    """Why a new password is refused, or None."""
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
