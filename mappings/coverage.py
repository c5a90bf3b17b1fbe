"""Coverage -> line of business, plan name, member id (R12), table-driven (coverage.yaml)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from server.domain.order import LineOfBusiness, NetworkStatus

from mappings.fhir import ResourceIndex, codings, concept_text, extensions, parse, table


@dataclass(frozen=True)
class CoverageFacts:
    ref: str
    line_of_business: LineOfBusiness
    member_id: str | None
    plan_name: str | None
    payer_name: str | None
    payer_ref: str | None
    network_status: NetworkStatus = NetworkStatus.UNKNOWN
    active: bool = True


def coverage_facts(resource: dict, path: str, index: ResourceIndex | None = None) -> CoverageFacts:
    cov = parse(resource, path, "Coverage")
    classes = list(cov.class_fhir or [])   # Coverage.class (a Python keyword in the model)
    concepts = [cov.type] + [c.type for c in classes]
    texts = [concept_text(cov.type)]
    plan_name = None
    for c in classes:
        texts += [c.name or "", c.value or ""]
        if plan_name is None and any(cc.code == "plan" for cc in codings(c.type)):
            plan_name = c.name or c.value
    payer_name = payer_ref = None
    for p in cov.payor or []:
        payer_ref = payer_ref or p.reference
        name = p.display
        if name is None and index is not None and p.reference:
            raw, _ = index.resolve(p.reference)
            name = raw.get("name") if raw is not None and isinstance(raw.get("name"), str) else None
        if name:
            payer_name = payer_name or name
            texts.append(name)
    member_id = cov.subscriberId
    if member_id is None:
        member_id = next((i.value for i in cov.identifier or [] if i.value), None)
    return CoverageFacts(
        ref=f"Coverage/{cov.id}" if cov.id else path,
        line_of_business=line_of_business(concepts, texts),
        member_id=member_id,
        plan_name=plan_name,
        payer_name=payer_name,
        payer_ref=payer_ref,
        network_status=network_status(cov),
        active=cov.status in (None, "active"),
    )


def line_of_business(concepts, texts) -> LineOfBusiness:
    rules = table("coverage")["rules"]
    pairs = {(c.system, c.code) for concept in concepts for c in codings(concept)}
    codes_only = {c.code for concept in concepts for c in codings(concept)}
    joined = " | ".join(t.lower() for t in texts if t)
    for rule in rules:
        for rc in rule["codes"]:
            if (rc["system"], rc["code"]) in pairs or ("system" not in rc and rc["code"] in codes_only):
                return LineOfBusiness(rule["line_of_business"])
        for phrase in rule["texts"]:
            if re.search(rf"(?<![\w-]){re.escape(phrase.lower())}(?![\w-])", joined):
                return LineOfBusiness(rule["line_of_business"])
    return LineOfBusiness.UNKNOWN


def network_status(resource) -> NetworkStatus:
    t = table("coverage")
    for ext in extensions(resource, t["network_extension"]):
        code = ext.valueCode or next((c.code for c in codings(ext.valueCodeableConcept)), None)
        if code in t["network_codes"]:
            return NetworkStatus(t["network_codes"][code])
    return NetworkStatus.UNKNOWN
