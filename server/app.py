"""Flask app factory. Nothing is created at import time."""
from __future__ import annotations

from flask import Flask, jsonify

from server import config
from server.http import errors


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    # Responses keep the key order they were built in (FHIR's and CDS Hooks' own order):
    # sorting every object's keys is per-request work nobody reads.
    app.json.sort_keys = False
    app.config.from_mapping(config.DEFAULTS)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)

    _check_security_config(app)
    errors.register(app)
    _init_knowledge(app)
    _register_surfaces(app)

    @app.get("/health")
    def health():
        kb = app.extensions.get("oncopath.knowledge")
        return jsonify({"status": "ok", "knowledgeBaseVersion": getattr(kb, "version", None)})

    return app


def _check_security_config(app: Flask) -> None:
    """JWT `aud` and the token URL come from PUBLIC_BASE_URL, never from the Host header."""
    verifying = app.config.get("CDS_JWT_REQUIRED") or app.config.get("FHIR_AUTH_REQUIRED")
    if verifying and not app.config.get("PUBLIC_BASE_URL") and not app.config.get("TESTING"):
        raise RuntimeError("PUBLIC_BASE_URL (ONCOPATH_PUBLIC_BASE_URL) is required while CDS_JWT_REQUIRED or "
                           "FHIR_AUTH_REQUIRED is on: it is the audience every JWT must name")


def _init_knowledge(app: Flask) -> None:
    """Load and validate the knowledge base once, at start-up: a broken file fails fast."""
    from server.knowledge.loader import load_knowledge

    from mappings.fhir import use_tables

    kb = load_knowledge(app.config["KNOWLEDGE_DIR"])
    use_tables(kb.program)      # the mappings read the program tables of this release
    app.extensions["oncopath.knowledge"] = kb


def _register_surfaces(app: Flask) -> None:
    """Blueprints per surface; each module exposes `init_app(app)`. Order matters: limits first
    (its before_request must see a body before any route or auth check reads it), then the store
    every surface uses and the case service over it, then CORS (so even refusals carry its headers), then the surfaces."""
    from server.cases import extension as cases
    from server.http import cors, fhir, hooks, limits, metrics, openapi, portal, reviewer, smart, subscriptions, summary
    from server.security import throttle
    from server.store import extension as store

    for module in (limits, store, cases, throttle, cors, smart, hooks, fhir, reviewer, subscriptions, summary,
                   portal, openapi, metrics):
        module.init_app(app)
    __import__("server.http.worksheets", fromlist=["init_app"]).init_app(app)   # after portal: SECRET_KEY
    __import__("server.http.knowledge", fromlist=["init_app"]).init_app(app)    # after portal: base.html
    __import__("server.http.sandbox", fromlist=["init_app"]).init_app(app)      # only when SANDBOX is on
