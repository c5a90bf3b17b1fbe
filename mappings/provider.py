"""Practitioner / PractitionerRole / Organization -> Provider (kind, NPI, name, network)."""
from __future__ import annotations

from server.domain.order import Provider, ProviderKind

from mappings.coverage import network_status
from mappings.fhir import ResourceIndex, identifier_value, parse

_KINDS = {
    "Practitioner": ProviderKind.INDIVIDUAL,
    "PractitionerRole": ProviderKind.INDIVIDUAL,
    "Organization": ProviderKind.ORGANIZATION,
}


def provider_from_reference(reference: str | None, index: ResourceIndex,
                            display: str | None = None) -> Provider | None:
    """The Provider a reference points to; a reference to a resource not sent keeps its kind."""
    if not reference:
        return None
    raw, path = index.resolve(reference)
    if raw is None:
        rtype = reference.rstrip("/").split("/")[-2] if "/" in reference else ""
        return Provider(npi=None, name=display, kind=_KINDS.get(rtype, ProviderKind.UNKNOWN),
                        reference=reference)
    return provider_from_resource(raw, path, index, reference=reference)


def provider_from_resource(resource: dict, path: str, index: ResourceIndex | None = None,
                           reference: str | None = None) -> Provider:
    res = parse(resource, path, tuple(_KINDS))
    rtype = res.get_resource_type()
    npi = identifier_value(res.identifier, "npi")
    name = _name(res)
    status = network_status(res)
    if rtype == "PractitionerRole" and index is not None:
        # The role carries the network; the practitioner carries the NPI and name.
        pref = res.practitioner.reference if res.practitioner else None
        raw, ppath = index.resolve(pref)
        if raw is not None:
            prac = parse(raw, ppath, "Practitioner")
            npi = npi or identifier_value(prac.identifier, "npi")
            name = name or _name(prac)
            if status.value == "unknown":
                status = network_status(prac)
    return Provider(
        npi=npi, name=name, kind=_KINDS[rtype], network_status=status,
        reference=reference or (f"{rtype}/{res.id}" if res.id else None),
    )


def _name(res) -> str | None:
    rtype = res.get_resource_type()
    if rtype == "Organization":
        return res.name
    if rtype == "Practitioner":
        for n in res.name or []:
            if n.text:
                return n.text
            parts = [*(n.prefix or []), *(n.given or []), n.family or ""]
            text = " ".join(p for p in parts if p).strip()
            if text:
                return text
    return None
