"""Decision ⇒ Da Vinci PAS response Bundle (ClaimResponse first).

Shape (compare Bundle-ReferralAuthorizationResponseBundleExample and
Bundle-ReferralPendingAuthorizationResponseBundleExample of PAS 2.2.1):

- Bundle: type collection, identifier = the request Bundle's identifier (as the IG examples
  echo it), timestamp; entries: the ClaimResponse first, then the Patient, insurer and
  requestor it references, copied from the request with their fullUrls.
- ClaimResponse: status active, use preauthorization, type/patient/insurer copied from the
  Claim, requestor = Claim.provider, `request` = reference + identifier of the Claim,
  `created`, `preAuthRef` = Order ID when at least one item is certified (A1), `preAuthPeriod`.
- One `item` per Claim item, `itemSequence` echoing its sequence, adjudication category
  `adjudication#submitted` carrying `extension-reviewAction` {reviewActionCode (X12 306),
  number = Order ID}. Drug status ⇒ action: Authorized A1 (+ itemPreAuthIssueDate,
  itemPreAuthPeriod, itemAuthorizedDetail with HCPCS and billing units); In Progress A4
  (+ administrationReferenceNumber = Order ID); Other Impact / Clinical Review Not Required /
  Refer to Health Plan / Not Reviewed and lines that are not program drugs NA with a process
  note naming who reviews them; Voluntarily Cancelled C; Non-authorized A3 (a reviewer's
  decision only: the engine never produces it).
- `outcome` is never `queued` (PAS forbids it). `complete` when every item has a final action
  (A1, A3, NA, C) or when every item is pended (the IG's pended example answers `complete`
  with A4); `partial` when some items are pended (A4) and others already decided, following
  R4's definition ("some of the adjudication has been performed"). Input errors never reach
  this renderer: they are 4xx OperationOutcomes.
- `processNote` (type display): case status and Order ID, program eligibility, pathway status
  and Pathway Eligible ID or the on-pathway alternatives, S-codes with their billing windows,
  one note per drug (status, reasons, who to contact), pend reasons with the due date,
  notices and deviations. Each item points at its notes through `noteNumber`.
"""
from __future__ import annotations

import copy
import uuid
from datetime import date, datetime
from typing import Any

from server.domain.decision import CaseStatus, Decision, DrugDecision, DrugStatus, Severity

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
X12_306 = "https://codesystem.x12.org/005010/306"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
ORDER_ID_SYSTEM = "urn:oncopath:order-id"
CERTIFICATION_CANCEL = "3"

ACTIONS = {"A1": "Certified in total", "A3": "Not Certified", "A4": "Pended",
           "C": "Cancelled", "NA": "No action required"}

_STATUS_ACTION = {
    DrugStatus.AUTHORIZED: "A1",
    DrugStatus.IN_PROGRESS: "A4",
    DrugStatus.NON_AUTHORIZED: "A3",
    DrugStatus.VOLUNTARILY_CANCELLED: "C",
    DrugStatus.OTHER_IMPACT: "NA",
    DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED: "NA",
    DrugStatus.REFER_TO_HEALTH_PLAN: "NA",
    DrugStatus.NOT_REVIEWED: "NA",
}
_FINAL = {"A1", "A3", "NA", "C"}


def action_for(status: DrugStatus) -> str:
    return _STATUS_ACTION[status]


def claim_response_outcome(actions: list[str]) -> str:
    pended = any(a == "A4" for a in actions)
    decided = any(a in _FINAL for a in actions)
    return "partial" if pended and decided else "complete"


def _iso(d: date | datetime | None) -> str | None:
    return d.isoformat() if d is not None else None


def _request_claim(bundle: dict) -> tuple[dict, str | None]:
    for entry in bundle.get("entry") or []:
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Claim":
            return res, entry.get("fullUrl")
    raise ValueError("request Bundle without a Claim")


def _cert_type(item: dict) -> str | None:
    for ext in item.get("extension") or []:
        if ext.get("url") == PAS_SD + "extension-certificationType":
            for coding in (ext.get("valueCodeableConcept") or {}).get("coding") or []:
                return coding.get("code")
    return None


class _Notes:
    def __init__(self):
        self.notes: list[dict] = []

    def add(self, text: str) -> int:
        number = len(self.notes) + 1
        self.notes.append({"number": number, "type": "display", "text": text})
        return number


def _review_action(code: str, order_id: str) -> dict:
    return {"url": PAS_SD + "extension-reviewAction", "extension": [
        {"url": "number", "valueString": order_id},
        {"url": PAS_SD + "extension-reviewActionCode",
         "valueCodeableConcept": {"coding": [{"system": X12_306, "code": code, "display": ACTIONS[code]}]}},
    ]}


def _sentences(texts) -> str:
    parts = [t.strip().rstrip(".") for t in texts if t and t.strip()]
    return "; ".join(parts) + "." if parts else ""


def _drug_note(dd: DrugDecision) -> str:
    text = f"{dd.display}: {dd.status.value}."
    reasons = _sentences(r.text for r in dd.reasons)
    if reasons:
        text += f" {reasons}"
    if dd.contact and dd.status is not DrugStatus.AUTHORIZED:
        if dd.contact not in text:
            text += f" Reviewed by: {dd.contact}."
    elif dd.status in (DrugStatus.OTHER_IMPACT, DrugStatus.REFER_TO_HEALTH_PLAN):
        text += " Reviewed by the health plan, not by the oncology program."
    if dd.status is DrugStatus.AUTHORIZED and dd.authorized_from:
        text += f" Authorized {dd.authorized_from.isoformat()} to {_iso(dd.authorized_to) or 'open'}"
        if dd.billing_units is not None:
            text += f", {dd.billing_units:g} billing units of {dd.hcpcs or 'the drug'}"
        if dd.visits is not None:
            text += f", {dd.visits} visits"
        text += "."
    return text


def _item(item: dict, dd: DrugDecision | None, order_id: str, decision: Decision, created: datetime,
          notes: _Notes, case_notes: list[int]) -> tuple[dict, str]:
    ext: list[dict] = []
    note_numbers: list[int] = []
    if dd is not None:
        action = action_for(dd.status)
        note_numbers.append(notes.add(_drug_note(dd)))
    elif _cert_type(item) == CERTIFICATION_CANCEL:
        action = "C"
        note_numbers.append(notes.add(f"Item {item.get('sequence')}: cancelled by the provider."))
    else:
        action = "NA"
        who = ("the health plan" if decision.in_program
               else "the health plan (the member or diagnosis is outside the oncology program)")
        note_numbers.append(notes.add(
            f"Item {item.get('sequence')}: not a drug managed by the oncology program; "
            f"no action by the program. Reviewed by {who}."))
    if action == "A1":
        ext.append({"url": PAS_SD + "extension-itemPreAuthIssueDate", "valueDate": created.date().isoformat()})
        if dd.authorized_from:
            period = {"start": dd.authorized_from.isoformat()}
            if dd.authorized_to:
                period["end"] = dd.authorized_to.isoformat()
            ext.append({"url": PAS_SD + "extension-itemPreAuthPeriod", "valuePeriod": period})
        detail = []
        if dd.hcpcs:
            detail.append({"url": "productOrServiceCode",
                           "valueCodeableConcept": {"coding": [{"system": HCPCS, "code": dd.hcpcs}]}})
        elif item.get("productOrService"):
            detail.append({"url": "productOrServiceCode", "valueCodeableConcept": item["productOrService"]})
        if dd.billing_units is not None:
            detail.append({"url": "quantity", "valueQuantity": {"value": dd.billing_units}})
        if detail:
            ext.append({"url": PAS_SD + "extension-itemAuthorizedDetail", "extension": detail})
    elif action == "A4":
        ext.append({"url": PAS_SD + "extension-administrationReferenceNumber", "valueString": order_id})
    out: dict[str, Any] = {}
    if ext:
        out["extension"] = ext
    out["itemSequence"] = item.get("sequence")
    out["noteNumber"] = note_numbers + case_notes
    out["adjudication"] = [{"extension": [_review_action(action, order_id)],
                            "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]}}]
    return out, action


def _case_notes(decision: Decision, order_id: str, notes: _Notes) -> list[int]:
    """Notes about the whole case; returns the ones every item should point at."""
    shared = [notes.add(f"Order ID {order_id}: case status {decision.case_status.value}.")]
    if decision.case_status is CaseStatus.REVIEW_CANCELLED:
        shared += [notes.add(n.text) for n in decision.notices]
        return shared
    if not decision.in_program:
        reason = decision.program_reason.text if decision.program_reason else "outside the program"
        shared.append(notes.add(f"Not reviewed by the oncology program: {reason}. "
                                f"Refer to the health plan."))
        return shared
    if decision.on_pathway:
        pw = decision.pathway
        notes.add(f"On pathway: {pw.pathway_name}, regimen {pw.regimen_name}. "
                  f"Pathway Eligible ID: {pw.pathway_eligible_id}.")
    elif decision.pathway is not None:
        pw = decision.pathway
        notes.add(f"Regimen {pw.regimen_name} matches pathway {pw.pathway_name} but is not "
                  f"pathway-eligible at this time (no enhanced reimbursement).")
    elif any(d.managed for d in decision.drugs):   # no word on pathways when nothing is ours to review
        notes.add("Not pathway-eligible: the regimen matches no pathway for this diagnosis; "
                  "it may still be authorized under medical policy, without enhanced reimbursement.")
    if decision.alternatives:
        alts = "; ".join(a.regimen_name if all(k in a.regimen_name.lower() for k in a.drug_keys)
                         else f"{a.regimen_name} ({', '.join(a.drug_keys)})" for a in decision.alternatives)
        notes.add(f"On-pathway alternatives: {alts}.")
    for s in decision.s_codes:
        text = (f"{s.code} billable from {s.valid_from.isoformat()} to {s.valid_to.isoformat()}, "
                f"at most {s.max_units} unit(s).")
        notes.add(f"{text} {s.note}".strip())
    for p in decision.precision_benefits:
        notes.add(f"Precision benefit ({p.biomarker}, {p.drug_key}): {p.text}")
    for t in decision.trial_pointers:
        notes.add(f"Clinical trial option {t.nct_id} ({t.arm}): {t.text}")
    if decision.pend_reasons:
        due = f" Decision due by {decision.due_by.isoformat()}." if decision.due_by else ""
        reasons = _sentences(r.text for r in decision.pend_reasons)
        shared.append(notes.add(f"Pended for clinical review: {reasons}{due}"))
    for d in decision.deviations:
        label = "Pends" if d.severity is Severity.PEND else "Warning"
        notes.add(f"{label} ({d.kind.value}{', ' + d.drug_key if d.drug_key else ''}): {d.text}")
    for n in decision.notices:
        shared.append(notes.add(n.text))
    return shared


def _copy_entry(index: dict[str, dict], reference: str | None) -> dict | None:
    if not reference:
        return None
    if reference in index:
        return index[reference]
    parts = reference.rstrip("/").split("/")
    return index.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def _entry_index(bundle: dict) -> dict[str, dict]:
    idx: dict[str, dict] = {}
    for entry in bundle.get("entry") or []:
        res = entry.get("resource") or {}
        if entry.get("fullUrl"):
            idx.setdefault(entry["fullUrl"], entry)
        if res.get("id"):
            idx.setdefault(f"{res.get('resourceType')}/{res['id']}", entry)
    return idx


def render_claim_response_bundle(decision: Decision, order_id: str, request_bundle: dict, *,
                                 created: datetime, base_url: str | None = None,
                                 revision: int = 1) -> dict:
    """The PAS response Bundle for a decided case (see the module docstring for the shape)."""
    claim, claim_url = _request_claim(request_bundle)
    notes = _Notes()
    case_notes = _case_notes(decision, order_id, notes)
    items, actions = [], []
    for item in claim.get("item") or []:
        dd = decision.drug(f"item/{item.get('sequence')}")
        rendered, action = _item(item, dd, order_id, decision, created, notes, case_notes)
        items.append(rendered)
        actions.append(action)

    request: dict[str, Any] = {}
    if claim_url or claim.get("id"):
        request["reference"] = claim_url or f"Claim/{claim['id']}"
    if claim.get("identifier"):
        request["identifier"] = copy.deepcopy(claim["identifier"][0])

    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": order_id,
        "meta": {"profile": [PAS_SD + "profile-claimresponse"]},
        "extension": [{"url": PAS_SD + "extension-claimResponseReviewer",
                       "extension": [{"url": "wasHumanReviewedFlag", "valueBoolean": False}]}],
        "identifier": [{"system": ORDER_ID_SYSTEM, "value": order_id}],
        "status": "active",
        "type": copy.deepcopy(claim.get("type")) or {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "preauthorization",
        "patient": copy.deepcopy(claim.get("patient")),
        "created": created.isoformat(),
        "insurer": copy.deepcopy(claim.get("insurer")),
        "requestor": copy.deepcopy(claim.get("provider")),
        "request": request,
        "outcome": claim_response_outcome(actions),
        "disposition": f"Case status: {decision.case_status.value}",
    }
    authorized = [d for d in decision.drugs if d.status is DrugStatus.AUTHORIZED]
    if "A1" in actions:
        response["preAuthRef"] = order_id
        starts = [d.authorized_from for d in authorized if d.authorized_from]
        ends = [d.authorized_to for d in authorized if d.authorized_to]
        if starts:
            response["preAuthPeriod"] = {"start": min(starts).isoformat()}
            if ends:
                response["preAuthPeriod"]["end"] = max(ends).isoformat()
    response["item"] = items
    response["processNote"] = notes.notes

    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "urn:oncopath")
    full_url = (f"{base_url.rstrip('/')}/ClaimResponse/{order_id}" if base_url
                else f"urn:uuid:{uuid.uuid5(namespace, f'{order_id}/{revision}')}")
    entries = [{"fullUrl": full_url, "resource": response}]
    index = _entry_index(request_bundle)
    seen = set()
    for ref in (claim.get("patient"), claim.get("insurer"), claim.get("provider")):
        entry = _copy_entry(index, (ref or {}).get("reference"))
        if entry is not None and id(entry) not in seen:
            seen.add(id(entry))
            entries.append(copy.deepcopy(entry))

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "meta": {"profile": [PAS_SD + "profile-pas-response-bundle"]},
        "identifier": copy.deepcopy(request_bundle.get("identifier")) or {
            "system": ORDER_ID_SYSTEM, "value": order_id},
        "type": "collection",
        "timestamp": created.isoformat(),
        "entry": entries,
    }
    return bundle


def inquiry_response_bundle(stored_response: dict, inquiry_bundle: dict, *, timestamp: datetime) -> dict:
    """A stored PAS response Bundle re-profiled as an inquiry response (current state)."""
    bundle = copy.deepcopy(stored_response)
    bundle["meta"] = {"profile": [PAS_SD + "profile-pas-inquiry-response-bundle"]}
    if inquiry_bundle.get("identifier"):
        bundle["identifier"] = copy.deepcopy(inquiry_bundle["identifier"])
    bundle["timestamp"] = timestamp.isoformat()
    first = bundle["entry"][0]["resource"]
    first["meta"] = {"profile": [PAS_SD + "profile-claiminquiryresponse"]}
    return bundle
