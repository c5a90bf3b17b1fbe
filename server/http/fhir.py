"""FHIR surface at /fhir: PAS Claim/$submit, Claim/$inquire and metadata.

Routes are thin: read the body, call the operation module, answer application/fhir+json.
Errors are raised as typed exceptions and turned into OperationOutcomes by
server/http/errors.py.
"""
from __future__ import annotations

from importlib import metadata as pkg_metadata

from flask import Blueprint, Flask, current_app

from mappings.pas_request import operation_bundle
from server.cases.extension import get_cases
from server.fhir_ops import claim_inquire, claim_submit
from server.fhir_ops.metadata import capability_statement
from server.http import limits
from server.http.body import fhir_body, fhir_response, now
from server.http.errors import audit_refusal
from server.security import smart_auth
from server.security.clients import SCOPE_READ, SCOPE_SUBMIT
from server.store.extension import get_store

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


def _request_bundle() -> dict:
    bundle = operation_bundle(fhir_body(), int(limits.setting("MAX_BUNDLE_ENTRIES")))
    limits.check_identifiers(bundle, "Bundle.entry")
    return bundle


def _organizations(scope: str) -> frozenset[str] | None:
    """The calling client's organisations (401/403 without a fitting token); None when open."""
    access = smart_auth.require_client(scope)
    return access.organizations if access is not None else None


def _fhir_base() -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return f"{base.rstrip('/')}/fhir" if base else None


@bp.post("/Claim/$submit")
def submit():
    organizations = _organizations(SCOPE_SUBMIT)
    bundle = _request_bundle()
    return fhir_response(claim_submit.submit(bundle, cases=get_cases(), received_at=now(), base_url=_fhir_base(),
                                             organizations=organizations))


@bp.post("/Claim/$inquire")
def inquire():
    organizations = _organizations(SCOPE_READ)
    bundle = _request_bundle()
    return fhir_response(claim_inquire.inquire(bundle, store=get_store(), now=now(), on_refusal=audit_refusal,
                                               organizations=organizations))


@bp.get("/metadata")
def metadata():
    try:
        version = pkg_metadata.version("oncopath")
    except pkg_metadata.PackageNotFoundError:
        version = "0.1.0"
    return fhir_response(capability_statement(software_version=version, base_url=_fhir_base(),
                                               payer_name=current_app.config.get("PAYER_NAME", "")))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
