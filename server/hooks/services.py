"""The hook door: parse -> prefetch -> map -> the case service (advise for order-select, sign
for order-sign: decide and store) -> render cards.

Thin on purpose: FHIR shapes belong to `mappings`, a case's life to `server.cases`, words and
coverage codes to `cards`.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import mappings
from cards import RenderContext, render, render_unmanaged
from cards.context import ServiceInfo
from mappings.bundles import content_fingerprint, is_a
from mappings.medication import raw_drug_codes, raw_drug_labels
from server.hooks import prefetch as prefetching
from server.hooks import request as hook_request
from server.hooks.fetcher import FhirFetcher
from server.hooks.questionnaires import questionnaire_id
from server.hooks.registry import REQUIRED_PREFETCH, HookService

log = logging.getLogger(__name__)


def handle_call(service: HookService, body: object, *, extensions: dict, config: dict, base_url: str,
                now: datetime | None = None, body_text: str | None = None) -> dict:
    """`body_text`: the JSON text `body` was parsed from, stored with the case as received."""
    req = hook_request.parse(body, service)
    cases = extensions["oncopath.cases"]
    kb = cases.knowledge()     # 503 while no knowledge base is loaded
    now = now or datetime.now(timezone.utc)
    fetcher = FhirFetcher(req.fhir_server, req.access_token, timeout=float(config.get("FHIR_FETCH_TIMEOUT", 3.0)))
    ctx = RenderContext(hook=req.hook, hook_instance=req.hook_instance,
                        payer_name=config.get("PAYER_NAME") or "oncopath", draft_orders=req.draft_orders,
                        targets=req.targets, today=now.date(), configuration=req.configuration, knowledge=kb,
                        worksheet_url=lambda cancer_type: f"{base_url}/fhir/Questionnaire/{questionnaire_id(cancer_type)}",
                        service=ServiceInfo.from_config(config, base_url))

    drug_orders = [o for o in req.draft_orders if is_oncology_order(o, kb)]
    if not drug_orders:
        # Nothing the oncology program manages: only the Coverage is needed, and it is optional.
        data = prefetching.gather(service, req, fetcher, required=frozenset(), wanted=frozenset({"coverage"}))
        _set_coverage(ctx, data)
        return render_unmanaged(ctx)

    data = prefetching.gather(service, req, fetcher, required=REQUIRED_PREFETCH)
    _set_coverage(ctx, data)
    ctx.notes = [f"{key}: {why}" for key, why in sorted(data.missing.items())]

    order = mappings.order_from_resources(drug_orders, data.resources, request_id=req.hook_instance,
                                          received_at=now, patient_id=req.patient_id)
    if req.hook != "order-sign" or ctx.coverage_state == "none":
        # order-select advises; with no Coverage in the record nothing is requested either
        # (coverage-information says not-covered), so nothing is stored.
        return render(cases.advise(order), ctx)

    def render_case(decision, order_id, _revision) -> dict:
        ctx.order_id = order_id
        return render(decision, ctx)

    return cases.sign(order, request_key=req.hook_instance, raw_request=req.raw,
                      raw_request_text=body_text, render=render_case, fingerprint=hook_fingerprint)


# Members of a hook call that change between transmissions of the same call (a retry carries a
# fresh access token): left out when telling a retry from a different call (server/cases/idempotency).
TRANSMISSION_FIELDS = ("fhirAuthorization",)


def hook_fingerprint(body) -> str:
    return content_fingerprint(body, ignore=TRANSMISSION_FIELDS)


def _set_coverage(ctx: RenderContext, data: prefetching.PatientData) -> None:
    coverages = [r for r in data.by_key.get("coverage", []) if is_a(r, "Coverage")]
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
    if not is_a(order, "MedicationRequest"):
        return False
    if any(kb.drug_for(code) is not None for code in raw_drug_codes(order)):
        return True
    # A product code or free text naming a program drug goes to review too (it pends there if
    # it cannot be resolved): never wave a known oncology drug through as "no PA needed".
    return any(kb.drug_named_in(label) is not None for label in raw_drug_labels(order))
