"""Reading FHIR JSON at the level of resources and Bundles, for the code outside mappings/ that
moves resources around without interpreting them (prefetch, outbound reads, stored requests and
responses, notifications). The one place besides the mappings proper that knows these shapes."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from mappings.fhir import arr, obj


def resource_type(value) -> str | None:
    """The resourceType of a JSON resource, or None if it is no resource."""
    rtype = obj(value).get("resourceType")
    return rtype if isinstance(rtype, str) and rtype else None


def is_a(value, *types: str) -> bool:
    return resource_type(value) in types


def resource_key(resource) -> tuple[str, str] | None:
    """(type, id) of a resource that has both, else None."""
    rid = obj(resource).get("id")
    rtype = resource_type(resource)
    return (rtype, rid) if rtype and isinstance(rid, str) else None


def entries_of(bundle) -> list[dict]:
    """A Bundle's resources, without OperationOutcome entries (search warnings)."""
    out = []
    for entry in arr(obj(bundle).get("entry")):
        resource = obj(entry).get("resource")
        if resource_type(resource) not in (None, "OperationOutcome"):
            out.append(resource)
    return out


def entry_count(bundle) -> int | None:
    """How many entries a Bundle has (None when `entry` is no list)."""
    entries = obj(bundle).get("entry")
    return len(entries) if isinstance(entries, list) else None


def next_link(bundle) -> str | None:
    """The `next` page of a searchset Bundle."""
    for link in arr(obj(bundle).get("link")):
        link = obj(link)
        if link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def first_entry(bundle) -> tuple[dict | None, str | None]:
    """The first entry's resource and fullUrl (a PAS Bundle: the Claim or the ClaimResponse)."""
    entries = arr(obj(bundle).get("entry"))
    first = obj(entries[0]) if entries else {}
    resource = first.get("resource")
    url = first.get("fullUrl")
    return (resource if isinstance(resource, dict) else None), (url if isinstance(url, str) else None)


def content_fingerprint(request, *, ignore: Iterable[str] = (), salt: Iterable[str] = ()) -> str:
    """sha256 of the request's canonical JSON without the top-level members in `ignore`;
    `salt` (e.g. the submitter) is part of what must be equal."""
    skip = set(ignore)
    content = {k: v for k, v in request.items() if k not in skip} if isinstance(request, dict) else request
    text = json.dumps([sorted(salt), content], sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
