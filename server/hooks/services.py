"""The hook pipeline: parse -> prefetch -> map -> decide -> store (order-sign) -> render.

Thin on purpose: FHIR shapes belong to `mappings`, decisions to `server.engine`, words and
coverage codes to `cards`, cases to the store (`app.extensions["oncopath.store"]`).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import mappings
from cards import RenderContext, render, render_unmanaged
from server import engine
from mappings.medication import raw_drug_codes, raw_drug_labels
from server.domain.order import History
from server.errors import Issue, ServiceError
from server.hooks import prefetch as prefetching
from server.hooks import request as hook_request
from server.hooks.fetcher import FhirFetcher
from server.hooks.questionnaires import questionnaire_id
from server.hooks.registry import REQUIRED_PREFETCH, HookService

log = logging.getLogger(__name__)


class ServiceUnavailable(ServiceError):
    status = 503


def handle_call(service: HookService, body: object, *, extensions: dict, config: dict, base_url: str,
                now: datetime | None = None, body_text: str | None = None) -> dict:
    """`body_text`: the JSON text `body` was parsed from, stored with the case as received."""
    req = hook_request.parse(body, service)
    kb = extensions.get("oncopath.knowledge")
    if kb is None:
        raise ServiceUnavailable(Issue("transient", "the pathway knowledge base is not loaded"))
    now = now or datetime.now(timezone.utc)
    fetcher = FhirFetcher(req.fhir_server, req.access_token, timeout=float(config.get("FHIR_FETCH_TIMEOUT", 3.0)))
    ctx = RenderContext(hook=req.hook, hook_instance=req.hook_instance,
                        payer_name=config.get("PAYER_NAME") or "oncopath", draft_orders=req.draft_orders,
                        targets=req.targets, today=now.date(), configuration=req.configuration, knowledge=kb,
                        worksheet_url=lambda cancer_type: f"{base_url}/fhir/Questionnaire/{questionnaire_id(cancer_type)}")

    drug_orders = [o for o in req.draft_orders if is_oncology_order(o, kb)]
    if not drug_orders:
        # Nothing the oncology program manages: only the Coverage is needed, and it is optional.
        data = prefetching.gather(service, req, fetcher, required=frozenset(), wanted=frozenset({"coverage"}))
        _set_coverage(ctx, data)
        return render_unmanaged(ctx)

    store = extensions.get("oncopath.store")
    data = prefetching.gather(service, req, fetcher, required=REQUIRED_PREFETCH)
    _set_coverage(ctx, data)
    ctx.notes = [f"{key}: {why}" for key, why in sorted(data.missing.items())]

    order = mappings.order_from_resources(drug_orders, data.resources, request_id=req.hook_instance,
                                          received_at=now, patient_id=req.patient_id)
    history = History.empty()
    if store is not None and order.member.id and hasattr(store, "history_for_member"):
        history = store.history_for_member(order.member.id)
    decision = engine.decide(order, kb, history)

    if req.hook == "order-sign" and store is not None and hasattr(store, "save_case"):
        return _save_and_render(store, req, order, decision, ctx, body_text)
    return render(decision, ctx)


def _save_and_render(store, req, order, decision, ctx: RenderContext, body_text: str | None = None) -> dict:
    """Record the case; its Order ID is the satisfied-pa-id. The stored response is the one returned."""
    rendered: dict = {}

    def render_response(order_id: str) -> dict:
        ctx.order_id = order_id
        rendered["body"] = render(decision, ctx)
        return rendered["body"]

    record = store.save_case(source="cds", request_key=req.hook_instance, order=order, decision=decision,
                             raw_request=req.raw, raw_request_text=body_text, render_response=render_response)
    if "body" in rendered:
        return rendered["body"]
    stored = getattr(record, "response", None)
    if isinstance(stored, dict) and "cards" in stored:
        return stored            # the same hookInstance again: the answer already given
    return render_response(record.order_id)


def _set_coverage(ctx: RenderContext, data: prefetching.PatientData) -> None:
    coverages = [r for r in data.by_key.get("coverage", []) if r.get("resourceType") == "Coverage"]
    if coverages:
        first = coverages[0]
        ctx.coverage_ref = ({"reference": f"Coverage/{first['id']}"} if first.get("id")
                            else {"display": "Coverage sent in prefetch"})
        ctx.coverage_state = "present"
    elif "coverage" in data.missing:
        ctx.coverage_state = "unavailable"
        ctx.coverage_problem = data.missing["coverage"]
    else:
        ctx.coverage_state = "none"


def is_oncology_order(order: dict, kb) -> bool:
    """A draft MedicationRequest for a drug the knowledge base knows (chemo, immuno, supportive...)."""
    if order.get("resourceType") != "MedicationRequest":
        return False
    if any(kb.is_anticancer_code(code) for code in raw_drug_codes(order)):   # known drug or HCPCS J9xxx
        return True
    # A product code or free text naming a program drug goes to review too (it pends there if
    # it cannot be resolved): never wave a known oncology drug through as "no PA needed".
    return any(kb.drug_named_in(label) is not None for label in raw_drug_labels(order))
