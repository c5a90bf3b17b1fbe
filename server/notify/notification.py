"""The rest-hook notification: a `history` Bundle whose first entry is the backport
SubscriptionStatus Parameters (subscription, topic, type event-notification,
events-since-subscription-start, notification-event {event-number, timestamp, focus}), then
the full PAS response Bundle (PAS spec-61; compare Bundle-PASSubscriptionNotification)."""
from __future__ import annotations

import uuid
from datetime import datetime

from mappings.bundles import first_entry
from mappings.subscription import PAS_TOPIC


def notification_bundle(*, subscription_id: str, event_number: int, timestamp: datetime, response_bundle: dict,
                        order_id: str, base_url: str | None = None) -> dict:
    fhir = base_url.rstrip("/") if base_url else None
    focus_url = (f"{fhir}/ClaimResponse/{order_id}" if fhir
                 else f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:oncopath:{order_id}/{event_number}/{subscription_id}')}")
    claim_response_url = first_entry(response_bundle)[1] or focus_url
    status = {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": f"Subscription/{subscription_id}"}},
            {"name": "topic", "valueCanonical": PAS_TOPIC},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": str(event_number)},
            {"name": "notification-event", "part": [
                {"name": "event-number", "valueString": str(event_number)},
                {"name": "timestamp", "valueInstant": timestamp.isoformat()},
                {"name": "focus", "valueReference": {"reference": claim_response_url}},
            ]},
        ],
    }
    status_url = f"{fhir}/Subscription/{subscription_id}/$status" if fhir else f"urn:uuid:{status['id']}"
    bundle_url = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:oncopath:bundle:{order_id}/{event_number}/{subscription_id}')}"
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "history",
        "timestamp": timestamp.isoformat(),
        "entry": [
            {"fullUrl": status_url, "resource": status,
             "request": {"method": "GET", "url": f"Subscription/{subscription_id}/$status"},
             "response": {"status": "200"}},
            {"fullUrl": bundle_url, "resource": response_bundle,
             "request": {"method": "GET", "url": f"ClaimResponse/{order_id}"},
             "response": {"status": "200"}},
        ],
    }
