"""The draft orders of a CDS Hooks call as the cards need them: a reference, words for a
clinician, whether an order names anything yet, and a copy carrying one extension more (the
coverage-information systemAction updates the order it was given, resp-37)."""
from __future__ import annotations

from mappings.bundles import is_a
from mappings.fhir import arr, obj


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
