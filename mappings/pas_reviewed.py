"""The PAS response Bundle of a case as it stands after clinical review.

`mappings.pas_response.render_claim_response_bundle` renders each item from its drug status
(A1/A3/A4/C/NA); this module adds what only a review produces:

- `wasHumanReviewedFlag` true once a reviewer decided;
- modified approvals: the item's reviewAction becomes **A6** and what was approved goes in
  `addItem` (same itemSequence, HCPCS code, quantity = approved billing units, A1 reviewAction),
  as PAS specifies (spec-36/37);
- a case from CDS Hooks has no PAS request on file: a minimal Claim is synthesized from the
  order (one item per drug line, in order, product = HCPCS code of the drug when known), so
  the same renderer serves it.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mappings.pas_response import ADJUDICATION, HCPCS, PAS_SD, X12_306, render_claim_response_bundle
from server.domain.decision import Decision
from server.domain.order import Order

REVIEW_ACTION = PAS_SD + "extension-reviewAction"
REVIEW_ACTION_CODE = PAS_SD + "extension-reviewActionCode"


def _has_claim(bundle) -> bool:
    return isinstance(bundle, dict) and any(
        (e.get("resource") or {}).get("resourceType") == "Claim" for e in bundle.get("entry") or [])


def synthesized_request(order: Order, decision: Decision, order_id: str) -> tuple[dict, Decision]:
    """A minimal PAS-like request for a CDS-sourced case, and the decision with item refs."""
    items, drugs = [], []
    for seq, dd in enumerate(decision.drugs, start=1):
        line = next((l for l in order.drugs if l.ref == dd.ref), None)
        item = {"sequence": seq}
        if dd.hcpcs:
            item["productOrService"] = {"coding": [{"system": HCPCS, "code": dd.hcpcs, "display": dd.display}]}
        elif line is not None and line.codes:
            item["productOrService"] = {"coding": [{"system": line.codes[0].system, "code": line.codes[0].code,
                                                    "display": dd.display}]}
        items.append(item)
        drugs.append(replace(dd, ref=f"item/{seq}"))
    claim = {"resourceType": "Claim", "id": order_id,
             "identifier": [{"system": "urn:oncopath:cds-request", "value": order.request_id}],
             "use": "preauthorization", "item": items}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:oncopath:claim:{order_id}", "resource": claim}]}
    return bundle, replace(decision, drugs=tuple(drugs))


def item_sequences(order: Order, decision: Decision, request_bundle) -> dict[str, int]:
    """Drug ref ⇒ item sequence in the rendered response."""
    if _has_claim(request_bundle):
        return {d.ref: int(d.ref.split("/", 1)[1]) for d in decision.drugs
                if d.ref.startswith("item/") and d.ref.split("/", 1)[1].isdigit()}
    return {d.ref: i for i, d in enumerate(decision.drugs, start=1)}


def render_case_response(*, order: Order, decision: Decision, order_id: str, request_bundle, created: datetime,
                         revision: int, base_url: str | None = None, reviewed: bool = False,
                         modified: dict[str, float] | None = None) -> dict:
    sequences = item_sequences(order, decision, request_bundle)
    if _has_claim(request_bundle):
        bundle = render_claim_response_bundle(decision, order_id, request_bundle, created=created,
                                              base_url=base_url, revision=revision)
    else:
        synthetic, renamed = synthesized_request(order, decision, order_id)
        bundle = render_claim_response_bundle(renamed, order_id, synthetic, created=created,
                                              base_url=base_url, revision=revision)
    response = bundle["entry"][0]["resource"]
    if reviewed:
        for ext in response.get("extension") or []:
            if ext.get("url") == PAS_SD + "extension-claimResponseReviewer":
                for sub in ext.get("extension") or []:
                    if sub.get("url") == "wasHumanReviewedFlag":
                        sub["valueBoolean"] = True
    for ref, quantity in (modified or {}).items():
        dd = decision.drug(ref)
        seq = sequences.get(ref)
        if dd is None or seq is None:
            continue
        _mark_modified(response, seq, dd.hcpcs, quantity, order_id, dd.authorized_from, dd.authorized_to)
    return bundle


def _set_action(adjudications: list[dict], code: str, display: str) -> None:
    for adj in adjudications:
        for ext in adj.get("extension") or []:
            if ext.get("url") == REVIEW_ACTION:
                for sub in ext.get("extension") or []:
                    if sub.get("url") == REVIEW_ACTION_CODE:
                        sub["valueCodeableConcept"] = {"coding": [{"system": X12_306, "code": code,
                                                                   "display": display}]}


def _mark_modified(response: dict, seq: int, hcpcs: str | None, quantity: float, order_id: str,
                   start, end) -> None:
    item = next((i for i in response.get("item") or [] if i.get("itemSequence") == seq), None)
    if item is None:
        return
    _set_action(item.get("adjudication") or [], "A6", "Modified")
    add = {"itemSequence": [seq]}
    if hcpcs:
        add["productOrService"] = {"coding": [{"system": HCPCS, "code": hcpcs}]}
    else:
        add["productOrService"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                               "code": "not-applicable"}]}
    if start:
        add["servicedPeriod"] = {"start": start.isoformat(), **({"end": end.isoformat()} if end else {})}
    add["quantity"] = {"value": quantity}
    add["adjudication"] = [{"extension": [{"url": REVIEW_ACTION, "extension": [
        {"url": "number", "valueString": order_id},
        {"url": REVIEW_ACTION_CODE, "valueCodeableConcept": {"coding": [
            {"system": X12_306, "code": "A1", "display": "Certified in total"}]}}]}],
        "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]}}]
    response.setdefault("addItem", []).append(add)
    # addItem follows item in ClaimResponse element order: rebuild the key order.
    ordered = {}
    for key in list(response.keys()):
        if key == "addItem":
            continue
        ordered[key] = response[key]
        if key == "item":
            ordered["addItem"] = response["addItem"]
    response.clear()
    response.update(ordered)
