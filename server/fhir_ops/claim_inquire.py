"""`POST [base]/Claim/$inquire` (PAS OperationDefinition Claim-inquiry).

Accepts: a PAS inquiry Bundle (Claim first; the Claim must name patient, provider and
insurer, resolvable in the Bundle), as the body or in Parameters.parameter[resource].
Answers 200 with a Parameters holding 0..* `return` parameters, one inquiry response Bundle
(the case's current response, re-profiled) per matching case — the OperationDefinition's
`return 0..*` (the IG's Parameters example names the parameter `responseBundle`; we follow the
OperationDefinition). No match is an empty Parameters, not an error.

Access: member identifiers + the provider's NPI; a provider only ever sees the cases it
submitted. Order IDs given in an item's authorizationNumber (REF-BB) or
administrationReferenceNumber (REF-NT) narrow the search; Claim.identifier is not used to
search (PAS: inquiry is by the REF identifiers).
"""
from __future__ import annotations

from datetime import datetime

from mappings.pas_response import inquiry_response_bundle
from server.errors import Issue, Unprocessable
from server.fhir_ops import pas_validate
from server.store import CaseStore

_REF_EXTENSIONS = (pas_validate.PAS_SD + "extension-authorizationNumber",
                   pas_validate.PAS_SD + "extension-administrationReferenceNumber")


def _order_ids(claim: dict) -> set[str]:
    ids = set()
    for item in claim.get("item") or []:
        for ext in item.get("extension") or []:
            if ext.get("url") in _REF_EXTENSIONS and str(ext.get("valueString", "")).startswith("ONC-"):
                ids.add(ext["valueString"])
    return ids


def _audit_foreign_order_ids(store: CaseStore, order_ids: set[str], npis: list[str]) -> None:
    """An inquiry naming another provider's Order ID finds nothing (the store only searches the
    inquirer's cases); the attempt is audited as a refusal."""
    foreign = [oid for oid in sorted(order_ids)[:20]
               if (rec := store.get_case(oid)) is not None and rec.provider_npi not in npis]
    if foreign:
        from server.http.errors import audit_refusal
        audit_refusal(404, f"PAS inquiry named {len(foreign)} Order ID(s) of another provider")


MAX_MEMBER_IDS = 20
MAX_PROVIDER_NPIS = 10


def inquire(bundle: dict, *, store: CaseStore, now: datetime, organizations: frozenset[str] | None = None) -> dict:
    """`organizations`: the NPIs the calling client is registered for (None: the door is open)."""
    claim = pas_validate.validate_inquiry_bundle(bundle)
    index = pas_validate.BundleIndex(bundle)
    p = pas_validate.CLAIM_PATH
    members = pas_validate.member_ids(index, claim)
    npis = pas_validate.provider_npis(index, claim.get("provider"))
    issues = []
    if not members:
        issues.append(Issue("required", "the inquiry must identify the member (Patient identifier "
                            "or Coverage subscriberId)", expression=[f"{p}.patient"]))
    if not npis:
        issues.append(Issue("required", "the inquiry must identify the provider by NPI",
                            expression=[f"{p}.provider"]))
    if len(members) > MAX_MEMBER_IDS or len(npis) > MAX_PROVIDER_NPIS:
        issues.append(Issue("too-costly", f"an inquiry names at most {MAX_MEMBER_IDS} member identifiers and "
                            f"{MAX_PROVIDER_NPIS} provider NPIs", expression=[p]))
    if issues:
        raise Unprocessable(issues)
    if organizations is not None:
        npis = [npi for npi in npis if npi in organizations]   # another organisation's: as if none

    _audit_foreign_order_ids(store, _order_ids(claim), npis)
    records, seen = [], set()
    for npi in npis:
        for rec in store.cases_for_inquiry(members, npi, pas_validate.payer_ids(index, claim),
                                           _order_ids(claim) or None):
            if rec.order_id not in seen:
                seen.add(rec.order_id)
                records.append(rec)
    return {"resourceType": "Parameters",
            "parameter": [{"name": "return",
                           "resource": inquiry_response_bundle(r.response, bundle, timestamp=now)}
                          for r in records]}
