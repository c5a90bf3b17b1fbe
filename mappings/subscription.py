"""PAS Subscription (profile-subscription, R4 + Subscriptions Backport) validation."""
from __future__ import annotations

from urllib.parse import urlparse

from server.errors import BadRequest, Issue, Unprocessable

PAS_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
FILTER_CRITERIA = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria"
PAYLOAD_CONTENT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content"
PAS_SUBSCRIPTION_PROFILE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription"
FHIR_JSON = "application/fhir+json"


def _ext_value(element: dict | None, url: str, key: str):
    for ext in (element or {}).get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext.get(key)
    return None


def validate(resource) -> tuple[str, str]:
    """Check a Subscription; returns (orgIdentifier, endpoint). Raises BadRequest (not a
    Subscription) or Unprocessable (breaks the PAS profile), naming every problem."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        raise BadRequest(Issue("structure", "the body must be a FHIR Subscription resource",
                               expression=["Subscription"]))
    issues: list[Issue] = []
    if resource.get("criteria") != PAS_TOPIC:
        issues.append(Issue("value", f"criteria must be the PAS topic {PAS_TOPIC}",
                            expression=["Subscription.criteria"]))
    org = None
    criteria = _ext_value(resource.get("_criteria"), FILTER_CRITERIA, "valueString")
    if isinstance(criteria, str) and criteria.startswith("orgIdentifier=") and criteria.split("=", 1)[1].strip():
        org = criteria.split("=", 1)[1].strip()
    else:
        issues.append(Issue("required", "the backport-filter-criteria extension on criteria must be "
                                        "'orgIdentifier=<the submitter's identifier>'",
                            expression=["Subscription.criteria.extension"]))
    channel = resource.get("channel") if isinstance(resource.get("channel"), dict) else {}
    if channel.get("type") != "rest-hook":
        issues.append(Issue("not-supported", "only channel.type rest-hook is supported",
                            expression=["Subscription.channel.type"]))
    endpoint = channel.get("endpoint")
    parsed = urlparse(endpoint) if isinstance(endpoint, str) else None
    if not parsed or parsed.scheme not in ("http", "https") or not parsed.netloc:
        issues.append(Issue("value", "channel.endpoint must be an http(s) URL",
                            expression=["Subscription.channel.endpoint"]))
    if channel.get("payload") != FHIR_JSON:
        issues.append(Issue("value", f"channel.payload must be {FHIR_JSON}",
                            expression=["Subscription.channel.payload"]))
    content = _ext_value(channel.get("_payload"), PAYLOAD_CONTENT, "valueCode")
    if content not in (None, "full-resource"):
        issues.append(Issue("not-supported", "only full-resource payload content is supported",
                            expression=["Subscription.channel.payload.extension"]))
    if resource.get("status") not in (None, "requested", "active"):
        issues.append(Issue("value", "status must be requested or active on create",
                            expression=["Subscription.status"]))
    if issues:
        raise Unprocessable(issues)
    return org, endpoint


def accepted(resource: dict, sub_id: str) -> dict:
    """The stored form: our id, status active, the PAS profile."""
    out = {k: v for k, v in resource.items() if k not in ("id", "meta", "status", "text")}
    out = {"resourceType": "Subscription", "id": sub_id,
           "meta": {"profile": [PAS_SUBSCRIPTION_PROFILE]}, "status": "active",
           **{k: v for k, v in out.items() if k != "resourceType"}}
    return out
