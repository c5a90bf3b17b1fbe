"""`POST [base]/Claim/$submit` (PAS OperationDefinition Claim-submit).

Accepts: the PAS request Bundle (application/fhir+json or application/json), or a Parameters
with `parameter[name=resource].resource` = that Bundle. Answers 200 with the PAS response
Bundle (ClaimResponse first) — 200 also for a resubmission, which gets the stored original —
or a 4xx OperationOutcome with nothing stored.

Read (`mappings.pas_request.read_submission`: checks, request key, submitter, related claim,
cancelled items) → the case service (`CaseService.submit`: new case, update or cancel) →
rendered as a ClaimResponse Bundle (`mappings.pas_response`).
"""
from __future__ import annotations

from datetime import datetime

from mappings.pas_request import read_submission
from mappings.pas_response import render_claim_response_bundle
from server.cases import CaseService
from server.errors import Forbidden, Issue


def submit(bundle: dict, *, cases: CaseService, received_at: datetime, base_url: str | None = None,
           organizations: frozenset[str] | None = None) -> dict:
    """`organizations`: the NPIs the calling client is registered for (None: the FHIR door is
    open); only those of the Claim's provider NPIs count as the submitter, so a client can
    neither file nor update nor cancel another organisation's case."""
    req = read_submission(bundle, received_at)
    if organizations is not None:
        req.submitter_npis = tuple(npi for npi in req.submitter_npis if npi in organizations)
        if not req.submitter_npis:
            raise Forbidden(Issue("forbidden", "this client is not registered for the provider the Claim names",
                                  expression=["Bundle.entry[0].resource.provider"]))

    def render(decision, order_id: str, revision: int) -> dict:
        return render_claim_response_bundle(decision, order_id, bundle, created=received_at,
                                            base_url=base_url, revision=revision)

    return cases.submit(req, render=render)
