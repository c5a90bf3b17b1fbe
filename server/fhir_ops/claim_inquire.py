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

from dataclasses import replace
from datetime import datetime

from mappings.pas_request import read_inquiry
from mappings.pas_response import inquiry_response_bundle
from server.errors import Issue, Unprocessable
from server.store import CaseStore


def _foreign_order_ids(store: CaseStore, order_ids, npis) -> list[str]:
    """Order IDs the inquiry names that belong to another provider (the store only searches
    the inquirer's cases, so these find nothing; the attempt is audited as a refusal)."""
    return [oid for oid in sorted(order_ids)[:20]
            if (rec := store.get_case(oid)) is not None and rec.provider_npi not in npis]


MAX_MEMBER_IDS = 20
MAX_PROVIDER_NPIS = 10


def inquire(bundle: dict, *, store: CaseStore, now: datetime, on_refusal=None,
            organizations: frozenset[str] | None = None) -> dict:
    """`organizations`: the NPIs the calling client is registered for (None: the door is open);
    another organisation's NPI in the inquiry is as if it were not there."""
    req = read_inquiry(bundle)
    if len(req.member_ids) > MAX_MEMBER_IDS or len(req.provider_npis) > MAX_PROVIDER_NPIS:
        raise Unprocessable(Issue("too-costly", f"an inquiry names at most {MAX_MEMBER_IDS} member identifiers "
                                                f"and {MAX_PROVIDER_NPIS} provider NPIs",
                                  expression=["Bundle.entry[0].resource"]))
    if organizations is not None:
        req = replace(req, provider_npis=tuple(npi for npi in req.provider_npis if npi in organizations))
    foreign = _foreign_order_ids(store, req.order_ids, req.provider_npis)
    if foreign and on_refusal is not None:
        on_refusal(404, f"PAS inquiry named {len(foreign)} Order ID(s) of another provider")
    records, seen = [], set()
    for npi in req.provider_npis:
        for rec in store.cases_for_inquiry(req.member_ids, npi, req.payer_ids, req.order_ids or None):
            if rec.order_id not in seen:
                seen.add(rec.order_id)
                records.append(rec)
    return {"resourceType": "Parameters",
            "parameter": [{"name": "return",
                           "resource": inquiry_response_bundle(r.response, bundle, timestamp=now)}
                          for r in records]}
