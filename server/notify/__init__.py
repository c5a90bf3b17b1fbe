"""Pended-result notifications (Da Vinci PAS, R4 Subscriptions Backport, rest-hook).

- A PAS Subscription is read and checked by `mappings/subscription.py` (the `orgIdentifier` it
  filters on, its rest-hook endpoint).
- `notification.py`  — the `history` notification Bundle (SubscriptionStatus Parameters + the
  full PAS response Bundle).
- `delivery.py`      — the outbox worker: `deliver_pending(store, now)` POSTs due
  notifications, records every attempt in `deliveries`, retries with bounded exponential
  backoff. A worker thread calls it; tests call it directly.

Matching rule: a notification for a case goes to every Subscription whose `orgIdentifier`
equals one of the case's submitter identifiers — the NPI of the submitting provider on file
(Claim.provider, the one that may inquire), every identifier value of the Claim.provider
resource (and, for a PractitionerRole, of its practitioner and organization), and the
assigner id in the Claim identifier's `urn:trnorg:<id>` system when present. For a case from
CDS Hooks: the ordering provider's NPI.
"""
