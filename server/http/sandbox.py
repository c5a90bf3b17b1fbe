"""Sandbox-only routes (server/sandbox): registered only when config SANDBOX is on, so each of
them is a 404 on any other instance.

- `GET /sandbox` — the scenario catalogue: HTML, or JSON with `?format=json` or
  `Accept: application/json` (server/sandbox/catalogue.py; computed on first use each day).
- `GET /sandbox/fixtures/<pas|hooks>/<name>.json` — a request fixture as the catalogue names it.
- `GET /sandbox/demo-client-key.pem` — the demo client's (published) private key.
- `POST /sandbox/cases/<orderId>/decide` `{"action": "approve" | "deny-after-peer-to-peer" |
  "request-information", "reason"?, "information"?}` — the demo physician reviewer acts
  through the reviewers' own service (ReviewService.act ⇒ CaseService.act), so the case
  changes exactly as a reviewer's decision changes it and the Subscription notification is
  queued in the same transaction. Needs the demo client's (or any registered client's)
  access token when the FHIR door is closed, and only that client's organisations' cases are
  found (another's is a 404). Answers the case's status, review actions and current PAS
  response Bundle.
- `GET /sandbox/fhir/Patient/<id>`, `Practitioner/<id>`, and the searches
  `Condition|Observation|MedicationRequest|MedicationAdministration|Coverage|QuestionnaireResponse?patient=<id>`
  (searchset Bundles) over the
  demo patients (mappings/sandbox.py): where a CDS client of the sandbox sends
  `fhirServer` to fetch what it did not prefetch.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from flask import Blueprint, Flask, current_app, jsonify, render_template, request, send_file

from mappings import sandbox as sandbox_json
from server.errors import BadRequest, Issue, NotFound
from server.http.body import fhir_response, json_object, now
from server.security import smart_auth
from server.security.clients import SCOPE_SUBMIT

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")
KEY = "oncopath.sandbox"
REQUEST_INFORMATION = "Please send the pathology report with the biomarker results (sandbox request)."
DENIAL_REASON = ("Sandbox denial by the demo physician after peer-to-peer was offered: the regimen does not meet "
                 "the medical policy for this diagnosis.")


class _State:
    def __init__(self, fixtures_dir, patients):
        self.fixtures_dir = fixtures_dir
        self.patients = patients
        self._catalogue: tuple[str, dict] | None = None
        self._lock = threading.Lock()

    def catalogue(self, app, base_url: str) -> dict:
        from server.sandbox import catalogue

        clock = app.extensions.get("oncopath.clock") or (lambda: datetime.now(timezone.utc))
        today = clock().date().isoformat()
        with self._lock:
            if self._catalogue is None or self._catalogue[0] != today:
                config = {k: app.config.get(k) for k in ("KNOWLEDGE_DIR", "PUBLIC_BASE_URL", "PAYER_NAME")}
                built = catalogue.build(config, self.fixtures_dir, clock, base_url=base_url)
                self._catalogue = (today, built)
            return self._catalogue[1]


def _state() -> _State:
    return current_app.extensions[KEY]


def _base_url() -> str:
    return (current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/")


def _wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("")
@bp.get("/")
def catalogue_page():
    data = _state().catalogue(current_app._get_current_object(), _base_url())
    if _wants_json():
        return jsonify(data)
    return render_template("sandbox.html", c=data)


@bp.get("/fixtures/<kind>/<name>")
def fixture(kind: str, name: str):
    directory = _state().fixtures_dir / kind
    if kind not in ("pas", "hooks") or not name.endswith(".json") or "/" in name or name.startswith("."):
        raise NotFound(Issue("not-found", "no such fixture"))
    path = directory / name
    if not path.is_file():
        raise NotFound(Issue("not-found", f"no fixture {kind}/{name}"))
    return send_file(path, mimetype="application/fhir+json" if kind == "pas" else "application/json")


@bp.get("/demo-client-key.pem")
def demo_key():
    from server.sandbox import demo

    return send_file(demo.CLIENT_KEY_FILE, mimetype="application/x-pem-file")


@bp.post("/cases/<order_id>/decide")
def decide(order_id: str):
    from server.http.reviewer import get_review
    from server.review.service import Actor
    from server.review.workflow import Action, Role
    from server.sandbox import demo

    access = smart_auth.require_client(SCOPE_SUBMIT)
    body = json_object(empty={})
    action = body.get("action")
    service = get_review()
    record = service.cases.get_case(order_id)
    if record is None or (access is not None and record.provider_npi not in access.organizations):
        raise NotFound(Issue("not-found", f"case {order_id} not found"))
    actor = Actor(demo.REVIEWER["username"], Role(demo.REVIEWER["role"]))
    at = now()
    if action == "approve":
        service.act(order_id, Action.APPROVE, actor, {"note": "sandbox: approved by the demo physician"}, at)
    elif action == "deny-after-peer-to-peer":
        state = service.state(record)
        if not state.peer_to_peer_offered:
            service.act(order_id, Action.PEER_TO_PEER_OFFERED, actor,
                        {"note": "sandbox: peer-to-peer offered to the ordering provider"}, at)
        service.act(order_id, Action.DENY, actor, {"reason": body.get("reason") or DENIAL_REASON}, at)
    elif action == "request-information":
        service.act(order_id, Action.REQUEST_INFORMATION, actor,
                    {"information": body.get("information") or REQUEST_INFORMATION}, at)
    else:
        raise BadRequest(Issue("value", "action must be one of approve, deny-after-peer-to-peer, "
                                        "request-information", expression=["action"]))
    record = service.cases.get_case(order_id)
    view = service.case_view(order_id, at)
    return jsonify({"orderId": order_id, "status": record.status, "actedAs": demo.REVIEWER["username"],
                    "actions": [a["action"] for a in view["actions"]],
                    "response": service.current_claim_response_bundle(record)})


# -- the demo patients' FHIR surface ------------------------------------------------------------

@bp.get("/fhir/<resource_type>/<resource_id>")
def fhir_read(resource_type: str, resource_id: str):
    found = _state().patients.read(resource_type, resource_id)
    if found is None:
        return fhir_response(sandbox_json.not_found(f"{resource_type}/{resource_id} is not a demo resource of "
                                                    "this sandbox"), 404)
    return fhir_response(found)


@bp.get("/fhir/<resource_type>")
def fhir_search(resource_type: str):
    if resource_type not in sandbox_json.SEARCHABLE:
        return fhir_response(sandbox_json.not_found(f"this sandbox searches {', '.join(sandbox_json.SEARCHABLE)} "
                                                    "by patient", "not-supported"), 404)
    patient = sandbox_json.patient_parameter(request.args)
    if not patient:
        return fhir_response(sandbox_json.not_found("search by patient=<id>", "required"), 400)
    found = _state().patients.search(resource_type, patient, request.args.get("status"))
    return fhir_response(sandbox_json.searchset(found, f"{_base_url()}/sandbox/fhir", request.url))


def init_app(app: Flask) -> None:
    """Only in sandbox mode: check (or mark) the database, create the demo client and
    reviewer, load the demo patients, register the routes. Outside sandbox mode: refuse a
    sandbox's database (its demo key is public)."""
    from server.sandbox import demo

    if not app.config.get("SANDBOX"):
        store = app.extensions.get("oncopath.store")
        if store is not None:
            demo.refuse_outside_sandbox_mode(store)
        return
    import json

    directory = demo.fixtures_dir(app.config)
    demo.prepare_database(app.extensions["oncopath.store"], app.config)
    hooks = {f"hooks/{p.name}": json.loads(p.read_text()) for p in sorted((directory / "hooks").glob("*.json"))}
    app.extensions[KEY] = _State(directory, sandbox_json.demo_patients(hooks))
    app.register_blueprint(bp)
