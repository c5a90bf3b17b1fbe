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


def long_identifier(resources, limit: int) -> tuple[int, str, str] | None:
    """The first resource (a Bundle's entries, or a list of resources) holding an identifier
    longer than `limit`: (its position, its resourceType, which identifier)."""
    if isinstance(resources, dict) and isinstance(resources.get("entry"), list):
        resources = [e.get("resource") for e in resources["entry"] if isinstance(e, dict)]
    for i, resource in enumerate(resources if isinstance(resources, list) else [resources]):
        found = _long_identifier(resource, limit)
        if found:
            return i, resource_type(resource) or "resource", found
    return None


def _too_long(ident, limit: int) -> str | None:
    for one in ident if isinstance(ident, list) else (ident,):
        if isinstance(one, dict):
            value = one.get("value")
            if isinstance(value, str) and len(value) > limit:
                return "identifier.value"
            system = one.get("system")
            if isinstance(system, str) and len(system) > 4 * limit:
                return "identifier.system"
    return None


def _long_identifier(resource, limit: int) -> str | None:
    """The first identifier longer than `limit` where identifiers sit in a resource: its own
    `identifier` and `subscriberId`, a Reference's `identifier` (Claim.provider), and one level
    into lists (Claim.related[].claim.identifier) — the places the store reads them from."""
    if not isinstance(resource, dict):
        return None
    found = _too_long(resource.get("identifier"), limit)
    if found:
        return found
    sub = resource.get("subscriberId")
    if isinstance(sub, str) and len(sub) > limit:
        return "subscriberId"
    for value in resource.values():
        if isinstance(value, dict):
            if "identifier" in value and (found := _too_long(value["identifier"], limit)):
                return found
        elif isinstance(value, list):
            for item in value:
                if not isinstance(item, dict):
                    continue
                if "identifier" in item and (found := _too_long(item["identifier"], limit)):
                    return found
                for inner in item.values():
                    if isinstance(inner, dict) and "identifier" in inner \
                            and (found := _too_long(inner["identifier"], limit)):
                        return found
    return None
