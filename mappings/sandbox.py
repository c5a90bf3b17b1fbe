"""The FHIR and CDS Hooks JSON that sandbox mode (server/sandbox) reads and writes: what a PAS
answer or a card response says (for the scenario catalogue), which NPIs the fixtures name (the
demo client's organisations), and the demo patients built from the hook fixtures' prefetch.

Demo patients: every hook fixture's prefetch is one patient's record, and they all call that
patient `patient-1`; here each becomes a patient of its own named after its fixture
(`order-sign-thp-her2-negative.json` ⇒ `Patient/thp-her2-negative`), with the ids of its
searchable resources prefixed the same way (`thp-her2-negative.her2-ihc`) and its references to
the patient rewritten. A fixture whose record is the same as an earlier one's (order-select of
the same patient) adds nobody. A CDS client can then send the fixture's request without
prefetch, with `fhirServer` = `<base>/sandbox/fhir` and `context.patientId` = that id.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import PurePath

from mappings.bundles import entries_of, first_entry, resource_key, resource_type
from mappings.fhir import arr, obj

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
INQUIRY_PROFILE = PAS_SD + "profile-claim-inquiry"
REVIEW_ACTION = PAS_SD + "extension-reviewAction"
X12_306 = "https://codesystem.x12.org/005010/306"
COVERAGE_INFORMATION = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
SEARCHABLE = ("Condition", "Observation", "MedicationRequest", "MedicationAdministration", "Coverage",
              "QuestionnaireResponse")
_PATIENT_FIELD = {"Condition": "subject", "Observation": "subject", "MedicationRequest": "subject",
                  "MedicationAdministration": "subject", "Coverage": "beneficiary",
                  "QuestionnaireResponse": "subject"}
_PREFIXES = ("order-sign-", "order-select-")


# -- PAS Bundles --------------------------------------------------------------------------------

def first_resource(bundle) -> dict:
    return obj(first_entry(bundle)[0])


def claim_identifiers(bundle) -> set[tuple]:
    return {(i.get("system"), i.get("value")) for i in arr(first_resource(bundle).get("identifier")) if isinstance(i, dict)}


def related_identifiers(bundle) -> set[tuple]:
    """The Claim identifiers a request's `Claim.related.claim` names (an update or cancel)."""
    out = set()
    for rel in arr(first_resource(bundle).get("related")):
        ident = obj(obj(obj(rel).get("claim")).get("identifier"))
        if ident:
            out.add((ident.get("system"), ident.get("value")))
    return out


def is_inquiry(bundle) -> bool:
    return INQUIRY_PROFILE in arr(obj(first_resource(bundle).get("meta")).get("profile"))


def response_id(bundle) -> str | None:
    """The id of a PAS response Bundle's ClaimResponse (oncopath: the Order ID)."""
    return first_resource(bundle).get("id")


def returned_bundles(parameters) -> list[dict]:
    """The response Bundles of an `$inquire` answer."""
    return [obj(p).get("resource") for p in arr(obj(parameters).get("parameter")) if obj(obj(p).get("resource"))]


def item_actions(bundle) -> dict[str, str]:
    """itemSequence (as text) ⇒ the X12 306 code of its reviewAction."""
    out = {}
    for item in arr(first_resource(bundle).get("item")):
        for adj in arr(obj(item).get("adjudication")):
            for ext in arr(obj(adj).get("extension")):
                if obj(ext).get("url") != REVIEW_ACTION:
                    continue
                for sub in arr(ext.get("extension")):
                    for coding in arr(obj(obj(sub).get("valueCodeableConcept")).get("coding")):
                        if obj(coding).get("system") == X12_306:
                            out[str(item.get("itemSequence"))] = coding.get("code")
    return out


def npis_in(document) -> set[str]:
    """Every NPI written anywhere in a JSON document."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("system") == NPI_SYSTEM and isinstance(node.get("value"), str):
                found.add(node["value"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(document)
    return found


# -- CDS Hooks responses --------------------------------------------------------------------------

def card_summary(body) -> list[dict]:
    return [{"indicator": obj(c).get("indicator"), "topic": obj(obj(obj(c).get("source")).get("topic")).get("code"),
             "summary": obj(c).get("summary")} for c in arr(obj(body).get("cards"))]


def coverage_codes(body) -> list[str]:
    """The `pa-needed` code of every coverage-information systemAction, in order."""
    out = []
    for action in arr(obj(body).get("systemActions")):
        for ext in arr(obj(obj(action).get("resource")).get("extension")):
            if obj(ext).get("url") == COVERAGE_INFORMATION:
                out += [s.get("valueCode") for s in arr(ext.get("extension")) if obj(s).get("url") == "pa-needed"]
    return out


# -- demo patients --------------------------------------------------------------------------------

def patient_id_for(fixture_name: str) -> str:
    stem = PurePath(fixture_name).stem
    for prefix in _PREFIXES:
        if stem.startswith(prefix):
            return stem[len(prefix):]
    return stem


def _prefetched(request: dict) -> list[dict]:
    out = []
    for value in obj(obj(request).get("prefetch")).values():
        if resource_type(value) == "Bundle":
            out += entries_of(value)
        elif resource_type(value):
            out.append(value)
    return out


def _rewrite(node, old_ref: str, new_ref: str):
    if isinstance(node, dict):
        return {k: (new_ref if k == "reference" and v == old_ref else _rewrite(v, old_ref, new_ref))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, old_ref, new_ref) for v in node]
    return node


@dataclass
class DemoPatients:
    patients: dict[str, dict] = field(default_factory=dict)
    by_type: dict[str, list[dict]] = field(default_factory=dict)
    others: dict[tuple[str, str], dict] = field(default_factory=dict)   # Practitioner, Organization reads
    source: dict[str, str] = field(default_factory=dict)                # patient id ⇒ hook fixture

    def read(self, rtype: str, rid: str) -> dict | None:
        return self.patients.get(rid) if rtype == "Patient" else self.others.get((rtype, rid))

    def search(self, rtype: str, patient: str, status: str | None = None) -> list[dict]:
        ref = f"Patient/{patient.rsplit('/', 1)[-1]}"
        found = [r for r in self.by_type.get(rtype, []) if obj(r.get(_PATIENT_FIELD[rtype])).get("reference") == ref]
        if status:
            found = [r for r in found if r.get("status") in status.split(",")]
        return found


def demo_patients(hook_requests: dict[str, dict]) -> DemoPatients:
    """`hook_requests`: fixture name ⇒ CDS Hooks request, in a stable order."""
    demo = DemoPatients()
    seen: set[str] = set()
    for name, request in hook_requests.items():
        resources = _prefetched(request)
        old_pid = obj(obj(request).get("context")).get("patientId")
        if not old_pid or not any(resource_type(r) == "Patient" for r in resources):
            continue
        record = json.dumps(resources, sort_keys=True)
        if record in seen:
            continue
        seen.add(record)
        pid = patient_id_for(name)
        demo.source[pid] = name
        for resource in resources:
            r = _rewrite(copy.deepcopy(resource), f"Patient/{old_pid}", f"Patient/{pid}")
            rtype = resource_type(r)
            if rtype == "Patient":
                r["id"] = pid
                demo.patients[pid] = r
            elif rtype in SEARCHABLE:
                r["id"] = f"{pid}.{r.get('id')}"
                demo.by_type.setdefault(rtype, []).append(r)
            elif resource_key(r):
                demo.others.setdefault(resource_key(r), r)
    return demo


def patient_parameter(args) -> str | None:
    """The patient a search names (`patient`, or the element it searches: subject, beneficiary)."""
    return args.get("patient") or args.get("subject") or args.get("beneficiary")


def searchset(resources: list[dict], base: str, self_url: str) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": self_url}],
            "entry": [{"fullUrl": f"{base}/{resource_type(r)}/{r.get('id')}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def not_found(text: str, code: str = "not-found") -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


def as_new_orders(request: dict) -> dict:
    """The same regimen ordered again as NEW orders (another hookInstance, new draft ids): what
    makes a possible-duplicate card (R8) once the first call's case is on file. (The same drafts
    signed again are not their own duplicate.)"""
    out = copy.deepcopy(request)
    out["hookInstance"] = f"{out.get('hookInstance')}-second-order"
    for resource in entries_of(obj(out.get("context")).get("draftOrders")):
        if isinstance(resource.get("id"), str):
            resource["id"] = "new-" + resource["id"]
    return out


def sandbox_variant(request: dict, patient_id: str, fhir_base: str) -> dict:
    """The fixture's request as a CDS client of the sandbox sends it: no prefetch, the demo
    patient's id, the sandbox's FHIR surface as fhirServer."""
    out = copy.deepcopy(request)
    old = obj(out.get("context")).get("patientId")
    out.pop("prefetch", None)
    out.pop("fhirAuthorization", None)
    out["fhirServer"] = fhir_base
    out = _rewrite(out, f"Patient/{old}", f"Patient/{patient_id}")
    out["context"]["patientId"] = patient_id
    return out
