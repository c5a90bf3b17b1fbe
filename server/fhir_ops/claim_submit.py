"""`POST [base]/Claim/$submit` (PAS OperationDefinition Claim-submit).

Accepts: the PAS request Bundle (application/fhir+json or application/json), or a Parameters
with `parameter[name=resource].resource` = that Bundle. Answers 200 with the PAS response
Bundle (ClaimResponse first) — 200 also for a resubmission, which gets the stored original —
or a 4xx OperationOutcome with nothing stored.

Flow: validate (pas_validate) → idempotency check on the Claim identifier → map
(`mappings.order_from_pas_bundle`) → history from the store → `decide` → store atomically
(`save_case`, rendering the response with the new Order ID) → answer.
A Claim with `related.claim` naming an earlier Claim that is on file is an update or cancel
of that case (claim_update). If the earlier Claim is not on file, the request is decided as a
new case.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from mappings import order_from_pas_bundle
from mappings.pas_response import render_claim_response_bundle
from server.engine import decide as engine_decide
from server.errors import Conflict, Forbidden, Issue, ServiceError, Unprocessable
from server.fhir_ops import claim_update, pas_validate
from server.store import CaseStore

log = logging.getLogger(__name__)


def request_key(identifier: tuple[str, str]) -> str:
    system, value = identifier
    return f"pas|{system}|{value}"


def related_request_key(bundle: dict, claim: dict) -> str | None:
    """The request key of the earlier Claim this one updates, if it names one."""
    index = pas_validate.BundleIndex(bundle)
    for related in claim.get("related") or []:
        ref = (related or {}).get("claim") or {}
        if ref.get("identifier", {}).get("value"):
            ident = ref["identifier"]
            return request_key((ident.get("system") or "", ident["value"]))
        earlier = index.resolve_resource(ref)
        if earlier and earlier.get("resourceType") == "Claim" and earlier is not claim:
            ident = pas_validate.claim_identifier(earlier)
            if ident:
                return request_key(ident)
    return None


def _same_submitter(record, submitter_npis: list[str], field: str, error, text: str) -> None:
    """A provider only ever sees or changes its own cases (the NPI of Claim.provider)."""
    if record.provider_npi and record.provider_npi not in submitter_npis:
        from server.http.errors import audit_refusal
        audit_refusal(error.status, f"PAS {field}: a case of another submitter")
        raise error(Issue("business-rule" if error is Unprocessable else "conflict", text,
                          expression=[f"{pas_validate.CLAIM_PATH}.{field}"]))


def map_order(bundle: dict, received_at: datetime, claim_model=None):
    """The Claim's order; `claim_model` is the Claim pas_validate already validated, if any,
    so it is validated once per request."""
    return order_from_pas_bundle(bundle, received_at=received_at, claim_model=claim_model)


def decide(order, knowledge, history):
    if knowledge is None:
        raise ServiceError(Issue("exception", "the knowledge base is not loaded"), status=503)
    return engine_decide(order, knowledge, history)


def submit(bundle: dict, *, store: CaseStore, knowledge: Any, received_at: datetime,
           base_url: str | None = None, organizations: frozenset[str] | None = None) -> dict:
    """`organizations`: the NPIs the calling client is registered for (None: the FHIR door is
    open); only those of the Claim's provider NPIs count as the submitter."""
    validated: dict = {}   # the Claim's model: validated once, mapped from the same model
    claim = pas_validate.validate_request_bundle(bundle, validated=validated)
    key = request_key(pas_validate.claim_identifier(claim))
    submitter = pas_validate.provider_npis(pas_validate.BundleIndex(bundle), claim.get("provider"))
    if organizations is not None:
        submitter = [npi for npi in submitter if npi in organizations]
        if not submitter:
            raise Forbidden(Issue("forbidden", "this client is not registered for the provider the Claim names",
                                  expression=[f"{pas_validate.CLAIM_PATH}.provider"]))

    on_file = store.find_case_by_request_key(key)
    if on_file is not None:
        _same_submitter(on_file, submitter, "identifier", Conflict,
                        "this Claim identifier is already on file for another submitter")
        return on_file.response   # the same Claim again: the original answer, no second case

    prior_key = related_request_key(bundle, claim)
    if prior_key is not None:
        prior = store.find_case_by_request_key(prior_key)
        if prior is not None:
            _same_submitter(prior, submitter, "related", Unprocessable,
                            "the Claim this one updates was submitted by another provider")
            return claim_update.apply(bundle, claim, prior, key=key, store=store, knowledge=knowledge,
                                      received_at=received_at, base_url=base_url)

    order = map_order(bundle, received_at, claim_model=validated.get(0))
    history = store.history_for_member(order.member.id)
    decision = decide(order, knowledge, history)
    record = store.save_case(
        source="pas", request_key=key, order=order, decision=decision, raw_request=bundle,
        provider_npi=submitter[0] if submitter else None,
        render_response=lambda order_id: render_claim_response_bundle(
            decision, order_id, bundle, created=received_at, base_url=base_url))
    # Order ID and status only: never member or clinical detail at info level.
    log.info("PAS case %s %s: %s", record.order_id, "created" if record.created else "already on file",
             record.status)
    return record.response
