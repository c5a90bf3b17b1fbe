"""Flask app factory. Nothing is created at import time."""
from __future__ import annotations

import logging
import os

from flask import Flask, jsonify

from server import config
from server.http import errors


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(config.DEFAULTS)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)

    errors.register(app)
    _init_knowledge(app)
    _register_surfaces(app)

    @app.get("/health")
    def health():
        kb = app.extensions.get("oncopath.knowledge")
        return jsonify({"status": "ok", "knowledgeBaseVersion": getattr(kb, "version", None)})

    return app


def _init_knowledge(app: Flask) -> None:
    """Load and validate the knowledge base once, at start-up: a broken file fails fast."""
    try:
        from server.knowledge.loader import load_knowledge
    except ImportError:  # knowledge loader not present yet
        return
    app.extensions["oncopath.knowledge"] = load_knowledge(app.config["KNOWLEDGE_DIR"])


def _register_surfaces(app: Flask) -> None:
    """Blueprints per surface; each module exposes `init_app(app)`."""
    import importlib

    # limits first: its before_request must see a body before any route or auth check reads it.
    for name in ("server.http.limits", "server.store.extension", "server.http.cors", "server.http.hooks",
                 "server.http.fhir", "server.http.reviewer", "server.http.subscriptions",
                 "server.http.summary", "server.http.portal", "server.http.openapi"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.init_app(app)


def knowledge(app: Flask):
    return app.extensions["oncopath.knowledge"]
