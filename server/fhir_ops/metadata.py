"""`GET [base]/metadata`: the CapabilityStatement of the FHIR surface."""
from __future__ import annotations

PAS_OD = "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/"


def capability_statement(*, software_version: str, base_url: str | None, payer_name: str) -> dict:
    cs = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-22",
        "publisher": payer_name,
        "kind": "instance",
        "software": {"name": "oncopath", "version": software_version},
        "implementation": {"description": "oncopath: oncology drug prior authorization (Da Vinci PAS)"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "resource": [
                {"type": "Claim",
                 "supportedProfile": ["http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim"],
                 "operation": [
                     {"name": "submit", "definition": PAS_OD + "Claim-submit"},
                     {"name": "inquire", "definition": PAS_OD + "Claim-inquiry"},
                 ]},
                {"type": "Subscription",
                 "supportedProfile": ["http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription"],
                 "documentation": "PAS pended-result notifications (R5 Backport, rest-hook): "
                                  "create, read, update and delete are planned, not yet served.",
                 "interaction": [{"code": "create"}, {"code": "read"}, {"code": "update"}, {"code": "delete"}]},
            ],
        }],
    }
    if base_url:
        cs["implementation"]["url"] = base_url
    return cs
