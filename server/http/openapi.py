"""`GET /openapi.json`: the OpenAPI 3 document of every route (server/openapi)."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from server.openapi import document

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def openapi():
    base = current_app.config.get("PUBLIC_BASE_URL")
    return jsonify(document(base.rstrip("/") if base else None))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
