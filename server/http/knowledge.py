"""The knowledge-base catalogue: `GET /knowledge` (HTML) and `GET /knowledge.json`.

Public and PHI-free: pathways, regimens and medical-policy indications with their sources and
verification tags, so a pathway committee (or an integrator) can review what the engine applies."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, render_template

from server.errors import Issue, NotFound
from server.knowledge.audit import stats
from server.knowledge.catalogue import catalogue
from server.knowledge.releases import read_snapshot

bp = Blueprint("knowledge", __name__)


def _kb():
    return current_app.extensions["oncopath.knowledge"]


@bp.get("/knowledge")
def page():
    kb = _kb()
    return render_template("knowledge.html", cat=catalogue(kb), figures=stats(kb))


@bp.get("/knowledge.json")
def as_json():
    kb = _kb()
    return jsonify({"stats": stats(kb), **catalogue(kb)})


@bp.get("/knowledge/releases/<version>.json")
def release(version: str):
    """The catalogue of an earlier (or the current) release: what a decision of that version used."""
    snap = read_snapshot(version, current_app.config.get("KNOWLEDGE_DIR"))
    if snap is None:
        raise NotFound([Issue("not-found", f"no knowledge-base release {version!r} is kept")])
    return jsonify(snap)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
