"""CDS Hooks surface: discovery, the two hook services, feedback, and the worksheets they link to.

Routes
- GET  /cds-services                       discovery (no JWT: the Sandbox probes it without one)
- POST /cds-services/<id>                  a hook call (JWT when CDS_JWT_REQUIRED)
- POST /cds-services/<id>/feedback         card outcomes (JWT when CDS_JWT_REQUIRED)
- GET  /fhir/Questionnaire/<id>            tumor-specific worksheet linked from pended cards
OPTIONS preflights are answered by server.http.cors for every path.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, jsonify, request

from server.errors import Issue, NotFound
from server.hooks import feedback as feedback_parser
from server.hooks import questionnaires, registry, services
from server.hooks.fetcher import ALLOWED_SERVERS_KEY
from server.security import smart_auth
from server.security.clients import ClientRegistry, DatabaseJtiCache
from server.http.body import body_text, json_body, now
from server.security.jwt import CdsJwtVerifier

bp = Blueprint("cds_hooks", __name__)
_VERIFIER = "oncopath.cds_jwt"


def init_app(app: Flask) -> None:
    store = app.extensions.get("oncopath.store")
    app.extensions[_VERIFIER] = CdsJwtVerifier(
        app.config.get("CDS_TRUSTED_ISSUERS") or {}, timeout=float(app.config.get("FHIR_FETCH_TIMEOUT", 3.0)),
        jtis=DatabaseJtiCache(ClientRegistry(store)) if store is not None else None,   # shared by all workers
        max_lifetime=float(app.config.get("CDS_JWT_MAX_LIFETIME", 300)))
    app.register_blueprint(bp)


def _base_url() -> str:
    public = current_app.config.get("PUBLIC_BASE_URL")
    return (public or request.url_root).rstrip("/")


def _require_client() -> None:
    """CDS Hooks JWT: `aud` must be the exact URL called (PUBLIC_BASE_URL + path; the Host
    header is never trusted). The verified issuer's fhir_servers bound where fhirServer may point."""
    if not current_app.config.get("CDS_JWT_REQUIRED", True):
        return
    audience = smart_auth.public_base() + request.path
    client = current_app.extensions[_VERIFIER].verify(request.headers.get("Authorization"), audience)
    g.setdefault(ALLOWED_SERVERS_KEY, list(client.fhir_servers))


def _service(service_id: str) -> registry.HookService:
    service = registry.get(service_id)
    if service is None:
        raise NotFound(Issue("not-found", f"no CDS service {service_id!r}; see GET /cds-services",
                             expression=["id"]))
    return service


def _stored_text() -> str | None:
    """The body as received, to store with the case — unless it carries fhirAuthorization (CDS
    Hooks: a transient token, never stored): then the case stores the parsed body without it."""
    if b"fhirAuthorization" in request.get_data(cache=True):
        return None
    return body_text()


@bp.get("/cds-services")
def discovery():
    return jsonify(registry.discovery())


@bp.post("/cds-services/<service_id>")
def call(service_id: str):
    service = _service(service_id)
    _require_client()
    body = services.handle_call(service, json_body(), extensions=current_app.extensions,
                                config=current_app.config, base_url=_base_url(), now=now(), body_text=_stored_text())
    return jsonify(body)


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    service = _service(service_id)
    _require_client()
    items = feedback_parser.parse(json_body())
    store = current_app.extensions.get("oncopath.store")
    if store is not None and hasattr(store, "record_feedback"):
        store.record_feedback(service.id, items)
    return jsonify({})


@bp.get("/fhir/Questionnaire/<questionnaire_id>")
def worksheet(questionnaire_id: str):
    kb = current_app.extensions.get("oncopath.knowledge")
    cancer_type = questionnaires.cancer_type_of(questionnaire_id)
    if cancer_type is None or cancer_type not in questionnaires.known_cancer_types(kb):
        raise NotFound(Issue("not-found", f"no worksheet Questionnaire/{questionnaire_id}"))
    url = f"{_base_url()}/fhir/Questionnaire/{questionnaire_id}"
    resp = jsonify(questionnaires.worksheet(cancer_type, kb, url, getattr(kb, "version", None)))
    resp.mimetype = "application/fhir+json"
    return resp
