"""CORS for the machine APIs, and the security headers of every answer.

CORS (CDS Hooks Sandbox and other browser clients call the CDS Hooks and FHIR APIs from their
own origin): `Access-Control-Allow-Origin: *` WITHOUT credentials — these APIs authenticate
with a bearer token in the Authorization header, never a cookie, so no origin is echoed and
no cookie ever rides a cross-origin call. Headers go on every answer of those APIs, errors
included (a browser hides a 4xx without them). An OPTIONS request is answered 204 on every
path before routing or any token check; the portal, the reviewer API and the order summary
get no CORS headers at all (same-origin only), so a browser refuses their cross-origin use.

Security headers on every answer: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
`Referrer-Policy: no-referrer`, a Content-Security-Policy (`default-src 'self'`, no framing,
no plugins, forms only to this origin), HSTS when PUBLIC_BASE_URL is https, and
`Cache-Control: no-store` on everything but discovery, metadata and static files (answers
carry PHI). A dozen lines of our own: the rules are fixed strings, and a library (Flask-Talisman)
would add a dependency for the same headers.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, request

ALLOW_HEADERS = "Authorization, Content-Type"
ALLOW_METHODS = "GET, POST, OPTIONS, DELETE"
EXPOSE_HEADERS = "Location, Content-Location, WWW-Authenticate"
CORS_PREFIXES = ("/cds-services", "/fhir/", "/fhir", "/oauth/token", "/.well-known/smart-configuration")
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
CACHEABLE = ("/static/", "/health")
CACHEABLE_EXACT = ("/cds-services", "/fhir/metadata", "/openapi.json", "/.well-known/smart-configuration")


def is_api(path: str) -> bool:
    return path == "/fhir" or path.startswith(CORS_PREFIXES)


def init_app(app: Flask) -> None:
    @app.before_request
    def _preflight():
        if request.method == "OPTIONS":   # every path: 204, CORS headers only on the APIs
            return Response(status=204)
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        if is_api(request.path):
            headers["Access-Control-Allow-Origin"] = "*"
            headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            headers["Access-Control-Max-Age"] = "600"
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Content-Security-Policy", CSP)
        if (current_app.config.get("PUBLIC_BASE_URL") or "").startswith("https://"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if not (request.path.startswith(CACHEABLE) or request.path in CACHEABLE_EXACT):
            headers["Cache-Control"] = "no-store"
        return response
