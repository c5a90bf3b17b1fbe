"""A Bundle file as the offline `oncopath review` command reads it: a collection Bundle of the
patient's resources plus the MedicationRequests ordered, or a PAS request Bundle (Claim first)."""
from __future__ import annotations

from datetime import datetime

from server.domain.order import Order

from mappings.fhir import obj, table
from mappings.order import assemble, bundle_entries, full_urls
from mappings.pas_claim import order_from_pas_bundle


def order_from_bundle(bundle: dict, *, received_at: datetime) -> Order:
    """A collection Bundle of the patient's resources plus the MedicationRequests ordered, or a
    PAS request Bundle (Claim first, which goes to the PAS mapping)."""
    entries = bundle_entries(bundle)
    if entries and entries[0][0].get("resourceType") == "Claim":
        return order_from_pas_bundle(bundle, received_at=received_at)
    med_table = table("medication")
    requests = [(r, p) for r, p in entries if r.get("resourceType") == "MedicationRequest"]
    drafts = [(r, p) for r, p in requests if r.get("status") == "draft"]
    if not drafts:
        drafts = [(r, p) for r, p in requests
                  if r.get("status") in med_table["order_statuses_when_no_draft"]]
    drafts += [(r, p) for r, p in entries if r.get("resourceType") == "RequestGroup"]
    request_id = obj(bundle.get("identifier")).get("value") or bundle.get("id") or "bundle"
    return assemble(drafts, entries, request_id=str(request_id), received_at=received_at,
                     patient_id=None, full_urls=full_urls(bundle))
