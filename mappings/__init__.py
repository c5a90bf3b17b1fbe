"""FHIR in, domain out: the only code that knows FHIR shapes.

- `order_from_resources(draft_orders, resources, *, request_id, received_at, patient_id=None)`:
  CDS Hooks draft MedicationRequests plus the patient's resources.
- `order_from_bundle(bundle, *, received_at)`: a collection Bundle (patient record plus the
  MedicationRequests ordered), or a PAS request Bundle (Claim first).
- `order_from_pas_bundle(bundle, *, received_at)`: a Da Vinci PAS Claim Bundle.

Codes are resolved through the knowledge base's program tables (`server/knowledge/data/program/`, checked at load; `mappings.fhir.table`); malformed input raises
`server.errors.BadRequest` with FHIRPath-like `Issue.expression` paths.
"""
from mappings.collection import order_from_bundle
from mappings.order import order_from_resources
from mappings.pas_claim import order_from_pas_bundle

__all__ = ["order_from_resources", "order_from_bundle", "order_from_pas_bundle"]
