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
                 "documentation": "PAS pended-result notifications (R4 Subscriptions Backport, rest-hook, "
                                  "full-resource): criteria = the PAS SubscriptionTopic with the "
                                  "backport-filter-criteria orgIdentifier=<submitter id>; a notification "
                                  "(history Bundle) is POSTed when a reviewer decides a pended case.",
                 "interaction": [{"code": "create"}, {"code": "read"}, {"code": "delete"}]},
                {"type": "ClaimResponse",
                 "supportedProfile": ["http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claimresponse"],
                 "documentation": "read: the current ClaimResponse of a case by Order ID, for the submitting "
                                  "provider (?npi=) or a reviewer.",
                 "interaction": [{"code": "read"}]},
            ],
        }],
    }
    if base_url:
        cs["implementation"]["url"] = base_url
    return cs
