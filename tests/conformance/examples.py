"""Every file of ../shared/examples, sorted into the requests a door of oncopath takes (replayed)
and the rest, each with the reason it is not a request.

The sorting reads each file's content, not its name, so a request file added later is
replayed without anyone listing it; a file no rule recognises is `UNCLASSIFIED` and fails
the replay test until a rule says what it is.

Doors (see the CapabilityStatement and the discovery document):
- `submit`   a PAS request Bundle (collection, a preauthorization Claim first, the
             profile-pas-request-bundle) ⇒ POST /fhir/Claim/$submit;
- `inquire`  a PAS inquiry Bundle (its Claim has profile-claim-inquiry) ⇒ POST /fhir/Claim/$inquire,
             after the request examples were submitted;
- `refuse`   a Claim on its own, not inside a PAS request Bundle (the FHIR core examples are billing
             claims, use = claim, but one; the PAS Claim examples are the Claims of the Bundle
             examples and are replayed there): $submit takes only PAS Bundles, so the door must
             refuse each with a 4xx OperationOutcome (test kits send such things);
- `hook`     a CDS Hooks request (hook + hookInstance) ⇒ POST /cds-services/<service>; a hook
             oncopath does not serve (order-dispatch, appointment-book) must be a 400;
- `feedback` a CDS Hooks feedback body ⇒ POST /cds-services/<service>/feedback;
- `subscribe` a PAS Subscription ⇒ POST /fhir/Subscription.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
INQUIRY_PROFILE = PAS_SD + "profile-claim-inquiry"
REQUEST_DOORS = ("submit", "inquire", "refuse", "hook", "feedback", "subscribe")
UNCLASSIFIED = "unclassified"
# Hooks whose requests an EHR sends to oncopath's services (discovery: oncopath-order-sign,
# oncopath-order-select); any other hook goes to order-sign and must be refused.
SERVICE_FOR_HOOK = {"order-sign": "oncopath-order-sign", "order-select": "oncopath-order-select"}

# Responses, notifications and definitions: what a server sends, not what it is sent.
_ANSWERS = {
    "ClaimResponse": "a ClaimResponse: an answer (ours are checked against the same PAS rules)",
    "OperationOutcome": "an OperationOutcome: an error answer",
    "OperationDefinition": "an OperationDefinition: the definition of $submit / $inquire, read for the rules",
    "ImplementationGuide": "the ImplementationGuide resource",
    "Parameters": "a Parameters the server sends ($inquire answer or a notification's SubscriptionStatus)",
}


@dataclass(frozen=True)
class Example:
    path: Path
    name: str              # relative to the examples directory
    doc: dict
    door: str              # one of REQUEST_DOORS, "not-a-request", or UNCLASSIFIED
    reason: str = ""

    @property
    def is_request(self) -> bool:
        return self.door in REQUEST_DOORS


def _profiles(resource: dict) -> list[str]:
    return list((resource.get("meta") or {}).get("profile") or [])


def _claim_ids_in_bundles(docs: dict[str, dict]) -> dict[str, str]:
    """Claim id ⇒ the example Bundle it is the first entry of."""
    out = {}
    for name, doc in docs.items():
        if doc.get("resourceType") == "Bundle":
            first = ((doc.get("entry") or [{}])[0]).get("resource") or {}
            if first.get("resourceType") == "Claim" and first.get("id"):
                out.setdefault(first["id"], name)
    return out


def classify(name: str, doc: dict, claims_in_bundles: dict[str, str]) -> tuple[str, str]:
    rtype = doc.get("resourceType")
    if name.endswith("package.json") and "resourceType" not in doc and "fhirVersions" in doc:
        return "not-a-request", "the FHIR package manifest of the IG's examples"
    if "hook" in doc and "hookInstance" in doc:
        return "hook", f"CDS Hooks {doc['hook']} request"
    if isinstance(doc.get("feedback"), list):
        return "feedback", "CDS Hooks feedback"
    if isinstance(doc.get("cards"), list):
        return "not-a-request", "a CDS Hooks response (cards): an answer"
    if isinstance(doc.get("services"), list):
        return "not-a-request", "a CDS Hooks discovery document: what a service publishes"
    if rtype == "Bundle":
        first = ((doc.get("entry") or [{}])[0]).get("resource") or {}
        if doc.get("type") == "collection" and first.get("resourceType") == "Claim" \
                and first.get("use") == "preauthorization":
            return ("inquire", "PAS inquiry Bundle") if INQUIRY_PROFILE in _profiles(first) \
                else ("submit", "PAS request Bundle")
        if first.get("resourceType") == "ClaimResponse":
            return "not-a-request", "a PAS response Bundle: an answer"
        if doc.get("type") == "history":
            return "not-a-request", "a Subscription notification Bundle: what the payer sends"
        if first.get("resourceType") == "Patient":
            return "not-a-request", ("a collection of one patient's clinical data (mCODE): data a request "
                                     "carries (prefetch, Bundle entries), sent to no door on its own")
        return UNCLASSIFIED, ""
    if rtype == "Claim":
        if doc.get("id") in claims_in_bundles:
            return "not-a-request", f"the Claim of {claims_in_bundles[doc['id']]}, replayed inside that Bundle"
        # Not a request oncopath takes (a billing claim, or a Claim outside a PAS Bundle), but a
        # test kit sends such things: the door must refuse each with a 4xx OperationOutcome.
        return "refuse", f"a Claim (use {doc.get('use')!r}) on its own, outside a PAS request Bundle"
    if rtype == "Subscription":
        return "subscribe", "a PAS Subscription"
    if rtype in _ANSWERS:
        return "not-a-request", _ANSWERS[rtype]
    if isinstance(rtype, str) and rtype[:1].isupper():
        return "not-a-request", (f"a {rtype} on its own: data a request carries (a PAS Bundle entry, a CDS "
                                 "prefetch or a draft order), sent to no door by itself")
    return UNCLASSIFIED, ""


def load_examples(root: Path) -> list[Example]:
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    docs = {}
    out = []
    for p in paths:
        name = str(p.relative_to(root))
        try:
            docs[name] = json.loads(p.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            out.append(Example(p, name, {}, UNCLASSIFIED, "not JSON"))
    in_bundles = _claim_ids_in_bundles(docs)
    for name, doc in docs.items():
        door, reason = classify(name, doc, in_bundles) if isinstance(doc, dict) else (UNCLASSIFIED, "")
        out.append(Example(root / name, name, doc if isinstance(doc, dict) else {}, door, reason))
    return sorted(out, key=lambda e: e.name)
