"""FHIR operations, one module per operation (Medplum style): claim_submit, claim_inquire,
metadata. Each reads its request through mappings/ (mappings.pas_request, mappings.pas_checks)
and hands it to the case service."""
