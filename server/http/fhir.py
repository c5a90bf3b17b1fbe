"""FHIR surface at /fhir: PAS Claim/$submit, Claim/$inquire and metadata.

Routes are thin: read the body, call the operation module, answer application/fhir+json.
Errors are raised as typed exceptions and turned into OperationOutcomes by
server/http/errors.py.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib import metadata as pkg_metadata

from flask import Blueprint, Flask, current_app, request

from server.errors import Issue, PayloadTooLarge, ServiceError
from server.fhir_ops import claim_inquire, claim_submit, pas_validate
from server.fhir_ops.metadata import capability_statement
from server.http import limits
from server.security import smart_auth
from server.security.clients import SCOPE_READ, SCOPE_SUBMIT
from server.store.extension import get_store

FHIR_JSON = "application/fhir+json"
ACCEPTED_TYPES = {FHIR_JSON, "application/json"}

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


def _fhir_response(body: dict, status: int = 200):
    # Keys in the order we built them (resourceType first), as FHIR JSON is usually read.
    return current_app.response_class(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                                      status=status, mimetype=FHIR_JSON)


def _request_bundle() -> dict:
    if request.mimetype and request.mimetype not in ACCEPTED_TYPES:
        raise ServiceError(Issue("not-supported", f"Content-Type {request.mimetype!r} is not accepted; "
                                 f"send {FHIR_JSON} or application/json"), status=415)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length and request.content_length > limit:
        raise PayloadTooLarge(Issue("too-costly", f"the body is larger than {limit} bytes"))
    bundle = pas_validate.parse_body(request.get_data(cache=False))
    limits.check_identifiers(bundle, "Bundle.entry")
    return bundle


def _organizations(scope: str) -> frozenset[str] | None:
    """The calling client's organisations (401/403 without a fitting token); None when open."""
    access = smart_auth.require_client(scope)
    return access.organizations if access is not None else None


def _now() -> datetime:
    """Request time (UTC). `app.extensions["oncopath.clock"]`, when set, replaces the wall clock
    (tests pin it: R9/R10 depend on the day a request arrives)."""
    clock = current_app.extensions.get("oncopath.clock")
    return clock() if clock else datetime.now(timezone.utc)


def _fhir_base() -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return f"{base.rstrip('/')}/fhir" if base else None


@bp.post("/Claim/$submit")
def submit():
    organizations = _organizations(SCOPE_SUBMIT)
    bundle = _request_bundle()
    body = claim_submit.submit(bundle, store=get_store(),
                               knowledge=current_app.extensions.get("oncopath.knowledge"),
                               received_at=_now(), base_url=_fhir_base(), organizations=organizations)
    return _fhir_response(body)


@bp.post("/Claim/$inquire")
def inquire():
    organizations = _organizations(SCOPE_READ)
    bundle = _request_bundle()
    return _fhir_response(claim_inquire.inquire(bundle, store=get_store(), now=_now(), organizations=organizations))


@bp.get("/metadata")
def metadata():
    try:
        version = pkg_metadata.version("oncopath")
    except pkg_metadata.PackageNotFoundError:
        version = "0.1.0"
    return _fhir_response(capability_statement(software_version=version, base_url=_fhir_base(),
                                               payer_name=current_app.config.get("PAYER_NAME", "")))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
