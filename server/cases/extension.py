"""Flask wiring of the case service: `init_app(app)` after the store; `get_cases()` in a request."""
from __future__ import annotations

from flask import Flask, current_app

from server.cases.service import CaseService

EXTENSION_KEY = "oncopath.cases"


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = CaseService(app.extensions.get("oncopath.store"),
                                                app.extensions.get("oncopath.knowledge"))


def get_cases(app: Flask | None = None) -> CaseService:
    return (app or current_app).extensions[EXTENSION_KEY]
