"""CDS Hooks feedback (`POST /cds-services/{id}/feedback`): what the clinician did with a card."""
from __future__ import annotations

from datetime import datetime

from server.errors import BadRequest, Issue


def _bad(message: str, where: str) -> BadRequest:
    return BadRequest(Issue("invalid", message, expression=[where]))


def _timestamp(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _bad("outcomeTimestamp is required (RFC 3339, UTC)", where)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad("outcomeTimestamp is not an RFC 3339 date-time", where) from None
    if parsed.tzinfo is None:
        raise _bad("outcomeTimestamp needs a time zone (UTC)", where)
    return value


def parse(body: object) -> list[dict]:
    """Validated feedback items, normalised: card, outcome, acceptedSuggestions, overrideReason, outcomeTimestamp."""
    if not isinstance(body, dict):
        raise _bad("the feedback body must be a JSON object", "$")
    items = body.get("feedback")
    if not isinstance(items, list) or not items:
        raise _bad("feedback must be a non-empty array", "feedback")
    out = []
    for i, item in enumerate(items):
        where = f"feedback[{i}]"
        if not isinstance(item, dict):
            raise _bad("each feedback item must be an object", where)
        card = item.get("card")
        if not isinstance(card, str) or not card:
            raise _bad("card (the card's uuid) is required", f"{where}.card")
        outcome = item.get("outcome")
        if outcome not in ("accepted", "overridden"):
            raise _bad("outcome must be 'accepted' or 'overridden'", f"{where}.outcome")
        accepted = item.get("acceptedSuggestions")
        if outcome == "accepted":
            if not isinstance(accepted, list) or not accepted or not all(
                    isinstance(s, dict) and isinstance(s.get("id"), str) and s["id"] for s in accepted):
                raise _bad("acceptedSuggestions [{id}] is required when the outcome is accepted",
                           f"{where}.acceptedSuggestions")
        elif accepted is not None:
            raise _bad("acceptedSuggestions is only for an accepted outcome", f"{where}.acceptedSuggestions")
        override = item.get("overrideReason")
        if override is not None:
            if outcome != "overridden" or not isinstance(override, dict):
                raise _bad("overrideReason is only for an overridden outcome", f"{where}.overrideReason")
            reason = override.get("reason")
            if reason is not None and not (isinstance(reason, dict) and reason.get("code")):
                raise _bad("overrideReason.reason must be a Coding", f"{where}.overrideReason.reason")
        out.append({"card": card, "outcome": outcome,
                    "acceptedSuggestions": [s["id"] for s in accepted or []],
                    "overrideReason": override,
                    "outcomeTimestamp": _timestamp(item.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")})
    return out
