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


def submit(bundle: dict, *, cases: CaseService, received_at: datetime, base_url: str | None = None) -> dict:
    req = read_submission(bundle, received_at)

    def render(decision, order_id: str, revision: int) -> dict:
        return render_claim_response_bundle(decision, order_id, bundle, created=received_at,
                                            base_url=base_url, revision=revision)

    return cases.submit(req, render=render)
