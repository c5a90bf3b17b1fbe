"""The draft orders of a CDS Hooks call as the cards need them: a reference, words for a
clinician, whether an order names anything yet, and a copy carrying one extension more (the
coverage-information systemAction updates the order it was given, resp-37)."""
from __future__ import annotations

from mappings.bundles import is_a
from mappings.fhir import arr, obj
from server.errors import BadRequest, Issue, PayloadTooLarge


def _bad(diagnostics: str, expression: str, code: str = "invalid") -> BadRequest:
    return BadRequest(Issue(code, diagnostics, expression=[expression]))


def order_ref(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def order_display(resource: dict) -> str:
    """Words for an order: the medication or service text, else its reference."""
    for key in ("medicationCodeableConcept", "code", "codeCodeableConcept"):
        cc = resource.get(key)
        if isinstance(cc, dict):
            if isinstance(cc.get("text"), str) and cc["text"].strip():
                return cc["text"].strip()
            for coding in arr(cc.get("coding")):
                if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                    return coding["display"]
    ref = resource.get("medicationReference")
    if isinstance(ref, dict) and isinstance(ref.get("display"), str):
        return ref["display"]
    return order_ref(resource)


def order_words(resource: dict) -> str:
    """An order in words for a clinician: its display, never its resource id."""
    text = order_display(resource)
    return "an order with no drug name" if text == order_ref(resource) else text


def is_medication_request(order) -> bool:
    return is_a(order, "MedicationRequest")


def names_an_item(order: dict) -> bool:
    """A draft MedicationRequest with no medication yet (a half-filled order form) names
    nothing coverage can be stated for."""
    if not is_medication_request(order):
        return True
    concept = order.get("medicationCodeableConcept")
    return bool(order.get("medicationReference")) or (
        isinstance(concept, dict) and bool(concept.get("coding") or concept.get("text")))


def with_extension(order: dict, url: str, extension: dict) -> dict:
    """A copy of the order whose extension `url` is `extension` (any earlier one replaced)."""
    resource = dict(order)
    kept = [e for e in arr(order.get("extension")) if not (isinstance(e, dict) and e.get("url") == url)]
    resource["extension"] = kept + [extension]
    return resource


def extensions_with_url(resource, url: str) -> list[dict]:
    return [e for e in arr(obj(resource).get("extension")) if isinstance(e, dict) and e.get("url") == url]


def unwrap_legacy_prefetch(value: object) -> object:
    """Pre-1.0 prefetch values were `{"response": {...}, "resource": {...}}`: take the resource."""
    if isinstance(value, dict) and "resourceType" not in value and isinstance(value.get("resource"), dict) \
            and isinstance(value.get("response"), dict):
        return value["resource"]
    return value


def draft_orders_of(context: dict, *, max_entries: int) -> list[dict]:
    """The draft orders of a CDS Hooks context (`draftOrders`, or pre-1.0 `medications`), each a
    resource with a type and an id; 400 (413 past `max_entries`) otherwise."""
    bundle = context.get("draftOrders")
    if bundle is None and isinstance(context.get("medications"), list):
        # Pre-1.0 clients (and the spec's own docs example) send `context.medications`, an
        # array of orders. Conformance replayers send it too: read it as the draft orders
        # rather than refuse the call; it gets the same per-order answer.
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": r} for r in context["medications"]]}
    if bundle is None:
        raise _bad("context.draftOrders is required", "context.draftOrders", "required")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise _bad("context.draftOrders must be a FHIR Bundle", "context.draftOrders", "structure")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise _bad("context.draftOrders.entry must be an array", "context.draftOrders.entry", "structure")
    if len(entries) > max_entries:
        raise PayloadTooLarge(Issue("too-costly", f"the Bundle has {len(entries)} entries; at most {max_entries} "
                                    "are accepted (MAX_BUNDLE_ENTRIES)", expression=["context.draftOrders.entry"]))
    out: list[dict] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"context.draftOrders.entry[{i}].resource"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise _bad("each draft order entry needs a resource", where, "required")
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if not isinstance(rtype, str) or not rtype:
            raise _bad("draft order has no resourceType", f"{where}.resourceType", "required")
        if not isinstance(rid, str) or not rid:
            # The coverage-information systemAction must name the order it updates.
            raise _bad(f"draft {rtype} has no id", f"{where}.id", "required")
        ref = f"{rtype}/{rid}"
        if ref in seen:
            raise _bad(f"draft order {ref} appears twice", f"{where}.id", "duplicate")
        seen.add(ref)
        out.append(resource)
    return out
