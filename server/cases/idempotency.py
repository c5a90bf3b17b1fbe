"""Idempotency that never answers a different request.

A request is known by a key its door derives from it (PAS: the Claim identifier; CDS Hooks: the
hookInstance). Test kits and the official PAS examples reuse one identifier for different
requests, so a key alone does not say "the same request again". A retry is the same key AND the
same content, compared by a fingerprint that leaves out what changes between transmissions
(Bundle.timestamp, the hook's access token, …). A different request under a known key is a new
case of its own, stored under `key#<fingerprint>` with the reuse recorded on its 'created' event.
The fingerprint is only computed when the key is already on file, which is rare.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mappings.bundles import content_fingerprint as fingerprint

__all__ = ["FINGERPRINT_CHARS", "KeyDecision", "fingerprint", "resolve"]

FINGERPRINT_CHARS = 24


@dataclass(frozen=True)
class KeyDecision:
    request_key: str            # the key a new case is stored under
    answered: object = None     # the record whose answer a retry gets, if this is one
    reuse_note: str | None = None


def resolve(store, key: str, *, same_request: Callable[[object], bool], fingerprint_now: Callable[[], str],
            on_file_hint: bool | None = None) -> KeyDecision:
    """Is this request a retry (the original answer), or new under `key` or under `key#…`?
    `on_file_hint`: False when the caller has just read that the key is not on file (in the
    same round trip as the member's history), which saves the read."""
    if on_file_hint is False:
        return KeyDecision(key)
    on_file = store.find_case_by_request_key(key)
    if on_file is None:
        return KeyDecision(key)
    if same_request(on_file):
        return KeyDecision(key, answered=on_file)
    own_key = f"{key}#{fingerprint_now()[:FINGERPRINT_CHARS]}"
    again = store.find_case_by_request_key(own_key)
    if again is not None:
        return KeyDecision(own_key, answered=again)
    return KeyDecision(own_key, reuse_note=f"request identifier reused: {on_file.order_id} answers a different "
                                          "request with the same identifier")
