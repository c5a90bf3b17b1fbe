"""CORS for browser CDS clients (the CDS Hooks Sandbox calls us from its own origin).

Headers go on every response, errors included (a browser hides a 4xx without them), and an
OPTIONS preflight is answered for any path before routing or JWT checks.
"""
from __future__ import annotations

from flask import Flask, Response, request

ALLOW_HEADERS = "Authorization, Content-Type"
ALLOW_METHODS = "GET, POST, OPTIONS, DELETE"
EXPOSE_HEADERS = "Origin, Accept, Content-Location, Location, X-Requested-With"


def init_app(app: Flask) -> None:
    @app.before_request
    def _preflight():
        if request.method == "OPTIONS":
            return Response(status=204)
        return None

    @app.after_request
    def _cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        headers = response.headers
        if origin:
            # Echo the origin (with credentials allowed, `*` would be refused by browsers).
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers.add("Vary", "Origin")
        else:
            headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        headers["Access-Control-Max-Age"] = "600"
        return response
