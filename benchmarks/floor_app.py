"""The floor: the product's app stack plus one benchmark-only route, `POST /__floor`.

    gunicorn 'benchmarks.floor_app:create_floor_app()'

`/__floor` parses the JSON body exactly like a hook call does (Flask's get_json) and returns a
fixed minimal CDS Hooks answer. Everything else (create_app and `server.serving.prepare`,
its extensions, error handlers, gunicorn settings) is the product's, so the ratio workload / floor says what the service's own
work costs. This route is never part of the product: it exists only in this module.
"""
from __future__ import annotations

from flask import jsonify, request

from server.app import create_app
from server.errors import BadRequest, Issue
from server.serving import prepare

FLOOR_ANSWER = {"cards": [], "systemActions": []}


def create_floor_app(test_config: dict | None = None):
    app = create_app(test_config)

    @app.post("/__floor")
    def floor():
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise BadRequest(Issue("structure", "the request body is not valid JSON"))
        return jsonify(FLOOR_ANSWER)

    # As `oncopath serve` loads the app (server/cli.py); tests pass a test_config and skip it.
    return app if test_config is not None else prepare(app)
