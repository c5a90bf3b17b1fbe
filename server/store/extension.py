"""Flask wiring: `init_app(app)` opens the database named by DATABASE_URL, migrates it and
puts the CaseStore at `app.extensions["oncopath.store"]`."""
from __future__ import annotations

from flask import Flask, current_app

from server.store.service import CaseStore

EXTENSION_KEY = "oncopath.store"


def init_app(app: Flask) -> CaseStore:
    store = CaseStore.from_url(app.config["DATABASE_URL"])
    from server.metrics import instrument_engine
    instrument_engine(store.engine)      # statement and commit time (server/metrics.py)
    app.extensions[EXTENSION_KEY] = store
    return store


def get_store(app: Flask | None = None) -> CaseStore:
    return (app or current_app).extensions[EXTENSION_KEY]
