"""The rules an answer of oncopath must keep, written from the specifications, not from our code.

PAS 2.2.1 (profile-pas-response-bundle, profile-claimresponse, extension-reviewAction) and
CDS Hooks 2.0 / CRD 2.x (Card, Action). Each checker returns a list of problems (empty = the
answer conforms), so a failing test names every broken rule at once. FHIR validity is checked
with fhir.resources' R4B models: fhir.resources ships R5 and R4B, not R4; R4B changed nothing
in Bundle, ClaimResponse, Parameters, OperationOutcome, Subscription or the request resources
a CDS systemAction carries.

Used by tests/test_conformance_replay.py (every request example of ../shared/examples) and
by the sandbox tests.
"""
from __future__ import annotations

import uuid
from typing import Any

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
REVIEW_ACTION = PAS_SD + "extension-reviewAction"
REVIEW_ACTION_CODE = PAS_SD + "extension-reviewActionCode"
X12_306 = "https://codesystem.x12.org/005010/306"
# X12 306 (Action Code) values PAS uses for a reviewAction, and which of them certify.
X12_306_CODES = {"A1", "A2", "A3", "A4", "A6", "C", "CT", "NA"}
CERTIFIED = {"A1", "A2", "A6"}
CDS_INDICATORS = {"info", "warning", "critical"}
CDS_ACTION_TYPES = {"create", "update", "delete"}


def fhir_problems(resource: dict, where: str = "", *, unknown_types_ok: bool = False) -> list[str]:
    """The resource against the R4B model of its type (cardinality, types, choice elements).
    `unknown_types_ok`: a type R4 does not have is not checked (a draft order an EHR sent in an
    older FHIR version, which a systemAction must echo as it came)."""
    import pydantic
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource.get("resourceType"))
    except (KeyError, ValueError, TypeError, AttributeError):
        return [] if unknown_types_ok else [f"{where}: unknown resourceType {resource.get('resourceType')!r}"]
    try:
        model.model_validate(resource)
    except pydantic.ValidationError as err:
        return [f"{where}: not valid FHIR {resource.get('resourceType')}: "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])]
    return []


def review_action(item: dict) -> tuple[str | None, str | None]:
    """(X12 306 code, number) of a ClaimResponse item's reviewAction; (None, None) without one."""
    for adjudication in item.get("adjudication") or []:
        for ext in adjudication.get("extension") or []:
            if ext.get("url") != REVIEW_ACTION:
                continue
            code = number = None
            for sub in ext.get("extension") or []:
                if sub.get("url") in (REVIEW_ACTION_CODE, "reviewActionCode"):
                    for coding in (sub.get("valueCodeableConcept") or {}).get("coding") or []:
                        if coding.get("system") == X12_306:
                            code = coding.get("code")
                elif sub.get("url") == "number":
                    number = sub.get("valueString")
            return code, number
    return None, None


def actions(body: dict) -> dict[int, str | None]:
    """itemSequence ⇒ X12 306 code of the first entry's ClaimResponse."""
    return {item.get("itemSequence"): review_action(item)[0] for item in _claim_response(body).get("item") or []}


def _claim_response(body: dict) -> dict:
    entries = body.get("entry") or [{}]
    return entries[0].get("resource") or {}


def _claim(request_bundle: dict) -> dict:
    return (request_bundle.get("entry") or [{}])[0].get("resource") or {}


def pas_response_problems(body: Any, request_bundle: dict, *, inquiry: bool = False) -> list[str]:
    """A PAS response Bundle answering `request_bundle` (the submitted request)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return ["the answer is not a Bundle"]
    out = fhir_problems(body, "Bundle")
    if body.get("type") != "collection":
        out.append("Bundle.type must be collection")
    if not body.get("identifier"):
        out.append("Bundle.identifier is required (PAS response Bundle 1..1)")
    if not body.get("timestamp"):
        out.append("Bundle.timestamp is required (PAS response Bundle 1..1)")
    entries = body.get("entry") or []
    if not entries:
        return out + ["the Bundle has no entries"]
    if any(not e.get("fullUrl") for e in entries):
        out.append("every entry needs a fullUrl")
    cr = _claim_response(body)
    if cr.get("resourceType") != "ClaimResponse":
        return out + ["the first entry must be the ClaimResponse"]
    out += fhir_problems(cr, "ClaimResponse")
    if cr.get("status") != "active":
        out.append("ClaimResponse.status must be active")
    if cr.get("use") != "preauthorization":
        out.append("ClaimResponse.use must be preauthorization")
    if cr.get("outcome") not in ("complete", "partial", "error"):
        out.append(f"ClaimResponse.outcome {cr.get('outcome')!r}: PAS forbids queued")
    for name in ("patient", "insurer", "created", "request"):
        if not cr.get(name):
            out.append(f"ClaimResponse.{name} is required")
    claim = _claim(request_bundle)
    if not inquiry and claim.get("identifier") and (cr.get("request") or {}).get("identifier") not in claim["identifier"]:
        out.append("ClaimResponse.request.identifier must be the Claim's identifier")
    resolvable = {e.get("fullUrl") for e in entries} | {f"{e['resource']['resourceType']}/{e['resource'].get('id')}"
                                                        for e in entries if isinstance(e.get("resource"), dict)}
    for name in ("patient", "insurer", "requestor"):
        ref = (cr.get(name) or {}).get("reference")
        if ref and ref not in resolvable:
            out.append(f"ClaimResponse.{name} {ref} does not resolve inside the Bundle")

    claim_items = [i.get("sequence") for i in claim.get("item") or []]
    answer_items = [i.get("itemSequence") for i in cr.get("item") or []]
    if not inquiry and sorted(answer_items) != sorted(claim_items):
        out.append(f"one ClaimResponse item per Claim item: Claim {claim_items}, answer {answer_items}")
    notes = {n.get("number") for n in cr.get("processNote") or []}
    if not cr.get("processNote"):
        out.append("the ClaimResponse carries no processNote")
    for n in cr.get("processNote") or []:
        if not n.get("text") or n.get("type") not in (None, "display", "print", "printoper"):
            out.append(f"processNote {n.get('number')} needs text and a NoteType")
    codes = []
    for item in cr.get("item") or []:
        where = f"item {item.get('itemSequence')}"
        code, number = review_action(item)
        if code is None:
            out.append(f"{where} has no reviewAction with an X12 306 reviewActionCode")
            continue
        codes.append(code)
        if code not in X12_306_CODES:
            out.append(f"{where}: {code!r} is not an X12 306 action code PAS uses")
        if code in ("A4", "A1", "A6", "A3") and not number:
            out.append(f"{where}: the reviewAction of a {code} item needs its number (the reference)")
        missing = [k for k in item.get("noteNumber") or [] if k not in notes]
        if missing:
            out.append(f"{where}: noteNumber {missing} names no processNote")
    if any(c in CERTIFIED for c in codes) and not cr.get("preAuthRef"):
        out.append("a certified item needs ClaimResponse.preAuthRef")
    return out


def inquiry_answer_problems(body: Any, inquiry_bundle: dict) -> list[str]:
    """`$inquire`: a Parameters whose every `return` is a PAS inquiry response Bundle."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        return ["the $inquire answer is not a Parameters"]
    out = fhir_problems(body, "Parameters")
    for i, p in enumerate(body.get("parameter") or []):
        if p.get("name") != "return":
            out.append(f"parameter[{i}] is named {p.get('name')!r}, the OperationDefinition's out parameter is return")
        out += [f"parameter[{i}]: {x}" for x in pas_response_problems(p.get("resource"), inquiry_bundle, inquiry=True)]
    return out


def operation_outcome_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ["a refusal must be an OperationOutcome"]
    out = fhir_problems(body, "OperationOutcome")
    if not body.get("issue"):
        out.append("an OperationOutcome needs at least one issue")
    return out


# -- CDS Hooks ------------------------------------------------------------------------------

def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def _action_problems(action: dict, where: str, sent: dict | None = None) -> list[str]:
    """`sent`: the resources the request carried, by (type, id): a problem the EHR's own draft
    already had (an id with non-breaking hyphens in the spec's example) is the EHR's, and an
    update must name the draft by the id it was sent with."""
    out = []
    if action.get("type") not in CDS_ACTION_TYPES:
        out.append(f"{where}.type must be one of create, update, delete")
    if not isinstance(action.get("description"), str):
        out.append(f"{where}.description is required")
    if action.get("type") in ("create", "update"):
        resource = action.get("resource")
        if not isinstance(resource, dict) or not resource.get("resourceType"):
            out.append(f"{where}.resource (a FHIR resource) is required for {action.get('type')}")
        else:
            own = fhir_problems(resource, f"{where}.resource", unknown_types_ok=True)
            draft = (sent or {}).get((resource.get("resourceType"), resource.get("id")))
            if draft is not None:
                inherited = set(fhir_problems(draft, f"{where}.resource", unknown_types_ok=True))
                own = [p for p in own if p not in inherited]
            out += own
    if action.get("type") == "delete" and not (action.get("resourceId") or action.get("resource")):
        out.append(f"{where}: a delete names the resource by resourceId")
    return out


def _sent_resources(request: dict | None) -> dict:
    out = {}
    for value in ((request or {}).get("context") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            for e in value.get("entry") or []:
                r = e.get("resource") or {}
                out[(r.get("resourceType"), r.get("id"))] = r
    return out


def cds_response_problems(body: Any, request: dict | None = None) -> list[str]:
    """CDS Hooks 2.0: cards (summary < 140 characters, indicator, source.label, uuid; suggestions
    with label and uuid, actions create/update/delete; links label/url/type) and systemActions
    (resources valid FHIR, but for what the `request`'s own drafts already broke)."""
    if not isinstance(body, dict) or not isinstance(body.get("cards"), list):
        return ["cards (an array) is required"]
    sent = _sent_resources(request)
    out = []
    uuids = []
    for i, card in enumerate(body["cards"]):
        where = f"cards[{i}]"
        summary = card.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) >= 140:
            out.append(f"{where}.summary must be a string of fewer than 140 characters")
        if card.get("indicator") not in CDS_INDICATORS:
            out.append(f"{where}.indicator must be info, warning or critical")
        if not isinstance((card.get("source") or {}).get("label"), str) or not card["source"]["label"]:
            out.append(f"{where}.source.label is required")
        if not _is_uuid(card.get("uuid")):
            out.append(f"{where}.uuid must be a UUID (feedback names the card by it)")
        uuids.append(card.get("uuid"))
        if card.get("suggestions") and card.get("selectionBehavior") not in ("at-most-one", "any"):
            out.append(f"{where}.selectionBehavior is required with suggestions")
        for j, s in enumerate(card.get("suggestions") or []):
            if not s.get("label") or not _is_uuid(s.get("uuid")):
                out.append(f"{where}.suggestions[{j}] needs a label and a uuid")
            for k, a in enumerate(s.get("actions") or []):
                out += _action_problems(a, f"{where}.suggestions[{j}].actions[{k}]", sent)
        for j, link in enumerate(card.get("links") or []):
            if not link.get("label") or not link.get("url") or link.get("type") not in ("absolute", "smart"):
                out.append(f"{where}.links[{j}] needs label, url and type absolute|smart")
    if len(set(uuids)) != len(uuids):
        out.append("card uuids must be unique")
    if "systemActions" in body and not isinstance(body["systemActions"], list):
        out.append("systemActions must be an array")
    for i, action in enumerate(body.get("systemActions") or []):
        out += _action_problems(action, f"systemActions[{i}]", sent)
    return out
