"""Throttling of sign-ins and token requests, and constant-time credential checks.

Rate limits use `limits` (the engine of Flask-Limiter) with a moving window: only FAILED
attempts are counted (a reviewer who types the password right is never slowed down), per user
name and per client address. Once a window is full every attempt is refused with 429 — the
right password too — until it slides. The counters live in the process (MemoryStorage): with N
workers an attacker gets at most N times the limit; `THROTTLE_STORAGE_URI` (a `limits` storage
URI such as redis://host:6379) shares them.

`authenticate(service, username, password)` takes the same time whether or not the user
exists: an unknown name is checked against a dummy scrypt hash.
"""
from __future__ import annotations

from flask import Flask, current_app, request
from limits import parse, storage, strategies

from server.errors import Issue, ServiceError, Unauthorized

EXTENSION_KEY = "oncopath.throttle"
MAX_PASSWORD_LENGTH = 1024
_DUMMY_HASH: str | None = None


class TooManyRequests(ServiceError):
    status = 429


class Throttle:
    def __init__(self, app: Flask):
        uri = app.config.get("THROTTLE_STORAGE_URI") or "memory://"
        self.limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(uri))
        self.per_user = parse(app.config.get("LOGIN_LIMIT_PER_USER", "10/15minutes"))
        self.per_address = parse(app.config.get("LOGIN_LIMIT_PER_ADDRESS", "50/15minutes"))
        self.token_per_address = parse(app.config.get("TOKEN_LIMIT_PER_ADDRESS", "60/minute"))

    def _keys(self, username: str | None):
        address = request.remote_addr or "unknown"
        keys = [(self.per_address, "login-address", address)]
        if username:
            keys.append((self.per_user, "login-user", username[:128].lower()))
        return keys

    def check_login(self, username: str | None) -> None:
        for limit, *key in self._keys(username):
            if not self.limiter.test(limit, *key):
                raise TooManyRequests(Issue("throttled", "too many failed sign-ins: wait a few minutes and try again"))

    def login_failed(self, username: str | None) -> None:
        for limit, *key in self._keys(username):
            self.limiter.hit(limit, *key)

    def token_request(self) -> None:
        if not self.limiter.hit(self.token_per_address, "token-address", request.remote_addr or "unknown"):
            raise TooManyRequests(Issue("throttled", "too many token requests from this address: wait a minute"))


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = Throttle(app)


def throttle() -> Throttle:
    return current_app.extensions[EXTENSION_KEY]


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        from server.review.accounts import hash_password
        _DUMMY_HASH = hash_password("not a password of anyone: timing only")
    return _DUMMY_HASH


def authenticate(service, username, password):
    """A reviewer for these credentials, or Unauthorized — in the same time for unknown names,
    inactive accounts and wrong passwords (one scrypt every time), after the throttle's check.
    Failures are counted by the throttle."""
    from server.review.accounts import verify_password

    guard = throttle()
    name = username if isinstance(username, str) else None
    guard.check_login(name)
    secret = password if isinstance(password, str) and len(password) <= MAX_PASSWORD_LENGTH else ""
    reviewer = service.reviews.reviewer_by_username(name) if name and len(name) <= 64 else None
    ok = verify_password(secret, reviewer.password_hash if reviewer else _dummy_hash())
    if not (ok and reviewer is not None and reviewer.active and secret):
        guard.login_failed(name)
        raise Unauthorized(Issue("login", "unknown reviewer or wrong password"))
    return reviewer
