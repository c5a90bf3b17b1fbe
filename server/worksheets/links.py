"""Signed worksheet links: the card's link carries a token only this service can make, so
the Order ID alone never opens a case's worksheet. Pure (hmac), no Flask."""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

PATH = "/worksheets/"


def token(order_id: str, key: str) -> str:
    return hmac.new(key.encode(), f"worksheet:{order_id}".encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def valid(order_id: str, given: str | None, key: str | None) -> bool:
    """Constant-time check; any text (non-ASCII included) is simply not the token."""
    if not (key and given):
        return False
    return hmac.compare_digest(token(order_id, str(key)).encode(), given.encode("utf-8", "replace"))


def form_url(base_url: str, order_id: str, key: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}{quote(order_id)}?t={token(order_id, key)}"
