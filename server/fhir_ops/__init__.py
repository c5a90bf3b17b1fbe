"""FHIR operations, one module per operation (Medplum style): claim_submit, claim_inquire,
metadata; pas_validate holds the checks they share."""
