"""Checks on PAS request and inquiry Bundles, before anything is mapped or stored.

Order of the checks, and what they answer:
1. body: not JSON / not a JSON object / not a Bundle (or a Parameters carrying one) ⇒ 400;
2. structure: the Bundle shell and the Claim validated against the R4B definitions
   (`mappings.structure`, compiled from the fhir.resources models) ⇒ 400,
   one issue per problem with a FHIRPath-ish `expression` (base FHIR cardinality, e.g. a
   Claim without patient or provider, is structure; PAS's own additions, e.g. insurer 1..1,
   are rules);
3. PAS rules (Bundle.fsh, Claim.fsh) ⇒ 422 with every broken rule in one OperationOutcome:
   type collection, identifier, timestamp, fullUrl on every entry, the Claim first,
   use preauthorization, status active, identifier, patient, insurer, provider, every
   reference in the Claim resolvable inside the Bundle, and per item the requestType and
   certificationType extensions.
Only resources the decision reads are validated this way; the rest stays JSON.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import pydantic

from mappings import structure
from server.errors import BadRequest, Issue, Unprocessable
from server.http import limits

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
EXT_REQUEST_TYPE = (PAS_SD + "extension-serviceItemRequestType", PAS_SD + "extension-requestType")
EXT_CERTIFICATION_TYPE = PAS_SD + "extension-certificationType"
CERTIFICATION_CANCEL = "3"   # X12 1322: Cancel
MAX_ISSUES = 50

CLAIM_PATH = "Bundle.entry[0].resource"


# -- body ---------------------------------------------------------------------------------

def _not_a_number(name: str):
    """NaN / Infinity are not JSON numbers (RFC 8259): refused, never stored."""
    raise BadRequest(Issue("invalid", f"the body holds {name}, which is not a JSON number"))


def parse_body(raw: bytes) -> dict:
    """The Bundle from a request body: the Bundle itself, or Parameters.parameter[resource]."""
    try:
        body = json.loads(raw, parse_constant=_not_a_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(Issue("invalid", f"the body is not JSON: {exc}"))
    if b"\\u0000" in raw:
        # FHIR strings may not hold NUL, and PostgreSQL JSONB cannot store it.
        raise BadRequest(Issue("invalid", "the body contains a NUL character (\\u0000), "
                               "which FHIR strings may not hold"))
    if not isinstance(body, dict):
        raise BadRequest(Issue("structure", "the body must be a JSON object (a FHIR Bundle)",
                               expression=["Bundle"]))
    if body.get("resourceType") == "Parameters":
        params = body.get("parameter") if isinstance(body.get("parameter"), list) else []
        found = [p.get("resource") for p in params if isinstance(p, dict) and p.get("name") == "resource"]
        if len(found) != 1 or not isinstance(found[0], dict):
            raise BadRequest(Issue("required", "Parameters must carry exactly one parameter "
                                   "'resource' holding the request Bundle",
                                   expression=["Parameters.parameter"]))
        body = found[0]
    if body.get("resourceType") != "Bundle":
        raise BadRequest(Issue("structure", f"expected a Bundle, got resourceType "
                               f"{body.get('resourceType')!r}", expression=["Bundle.resourceType"]))
    limits.check_bundle_entries(body, "Bundle.entry")   # 413 past MAX_BUNDLE_ENTRIES
    return body


# -- bundle index ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    index: int
    full_url: str | None
    resource: dict


class BundleIndex:
    """Resolve references inside a Bundle: by fullUrl, or by ResourceType/id."""

    def __init__(self, bundle: dict):
        self.entries: list[Entry] = []
        for i, e in enumerate(bundle.get("entry") or []):
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                self.entries.append(Entry(i, e.get("fullUrl"), e["resource"]))
        self._by_url = {e.full_url: e for e in self.entries if e.full_url}
        self._by_type_id = {f"{e.resource.get('resourceType')}/{e.resource.get('id')}": e
                            for e in self.entries if e.resource.get("id")}

    def resolve(self, reference: str | None) -> Entry | None:
        if not reference:
            return None
        ref = reference.split("/_history/")[0]
        if ref in self._by_url:
            return self._by_url[ref]
        parts = ref.rstrip("/").split("/")
        if len(parts) >= 2:
            return self._by_type_id.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def resolve_resource(self, ref: dict | None) -> dict | None:
        entry = self.resolve((ref or {}).get("reference")) if isinstance(ref, dict) else None
        return entry.resource if entry else None

    def of_type(self, resource_type: str) -> list[Entry]:
        return [e for e in self.entries if e.resource.get("resourceType") == resource_type]


def references(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(expression, reference) for every Reference.reference under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield path, value
            else:
                yield from references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from references(value, f"{path}[{i}]")


# -- structure (400) ---------------------------------------------------------------------------

def _loc_to_path(prefix: str, loc: tuple) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _model_issues(resource_type: str, data: dict, prefix: str, validated: list | None = None) -> list[Issue]:
    try:
        instance = structure.Element(structure.validate(data, resource_type))
    except pydantic.ValidationError as exc:
        return [Issue("required" if "missing" in err["type"] else "structure", f"{err['msg']}",
                      expression=[_loc_to_path(prefix, err["loc"])])
                for err in exc.errors()[:MAX_ISSUES]]
    except (ValueError, TypeError) as exc:   # a primitive's own check may raise these
        return [Issue("structure", str(exc), expression=[prefix])]
    if validated is not None:
        validated.append(instance)
    return []


def structure_issues(bundle: dict, validated: dict | None = None) -> list[Issue]:
    """Structure problems (400). `validated`, if given, receives {entry index: Claim model} for
    each Claim that validated (a `structure.Element`), so the mapping need not validate it again."""

    entries = bundle.get("entry")
    if entries is not None and not isinstance(entries, list):
        return [Issue("structure", "Bundle.entry must be an array", expression=["Bundle.entry"])]
    issues: list[Issue] = []
    shell_entries = []
    for i, e in enumerate(entries or []):
        if not isinstance(e, dict) or not isinstance(e.get("resource"), dict) \
                or not isinstance(e["resource"].get("resourceType"), str):
            issues.append(Issue("structure", "every entry must hold a resource with a resourceType",
                                expression=[f"Bundle.entry[{i}].resource"]))
            continue
        shell_entries.append({k: v for k, v in e.items() if k != "resource"})
    shell = {k: v for k, v in bundle.items() if k != "entry"}
    if shell_entries:
        shell["entry"] = shell_entries
    issues += _model_issues("Bundle", shell, "Bundle")
    for i, e in enumerate(entries or []):
        if isinstance(e, dict) and isinstance(e.get("resource"), dict) \
                and e["resource"].get("resourceType") == "Claim":
            models: list = []
            issues += _model_issues("Claim", e["resource"], f"Bundle.entry[{i}].resource", models)
            if validated is not None and models:
                validated[i] = models[0]
    return issues[:MAX_ISSUES]


# -- PAS rules (422) ---------------------------------------------------------------------------

def _coded(ext: dict) -> str | None:
    for coding in (ext.get("valueCodeableConcept") or {}).get("coding") or []:
        if coding.get("code"):
            return coding["code"]
    return None


def item_extension_code(item: dict, urls: tuple[str, ...] | str) -> str | None:
    urls = (urls,) if isinstance(urls, str) else urls
    for ext in item.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") in urls:
            return _coded(ext)
    return None


def certification_type(item: dict) -> str | None:
    return item_extension_code(item, EXT_CERTIFICATION_TYPE)


def claim_identifier(claim: dict) -> tuple[str, str] | None:
    for ident in claim.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            return ident.get("system") or "", ident["value"]
    return None


def _bundle_rules(bundle: dict, *, inquiry: bool) -> list[Issue]:
    issues = []
    if bundle.get("type") != "collection":
        issues.append(Issue("value", f"Bundle.type must be 'collection', not {bundle.get('type')!r}",
                            expression=["Bundle.type"]))
    if not inquiry and not (bundle.get("identifier") or {}).get("value"):
        issues.append(Issue("required", "Bundle.identifier is required", expression=["Bundle.identifier"]))
    if not bundle.get("timestamp"):
        issues.append(Issue("required", "Bundle.timestamp is required", expression=["Bundle.timestamp"]))
    entries = bundle.get("entry") or []
    if not entries:
        issues.append(Issue("required", "the Bundle has no entries", expression=["Bundle.entry"]))
    for i, e in enumerate(entries):
        if not e.get("fullUrl"):
            issues.append(Issue("required", "every entry needs a fullUrl",
                                expression=[f"Bundle.entry[{i}].fullUrl"]))
        for forbidden in ("request", "response", "search"):
            if forbidden in e:
                issues.append(Issue("invalid", f"PAS Bundle entries carry no '{forbidden}'",
                                    expression=[f"Bundle.entry[{i}].{forbidden}"]))
    if entries and (entries[0].get("resource") or {}).get("resourceType") != "Claim":
        issues.append(Issue("invalid", "the Claim must be the first entry of the Bundle",
                            expression=["Bundle.entry[0].resource"]))
    return issues


def _claim_rules(claim: dict, index: BundleIndex, *, inquiry: bool) -> list[Issue]:
    p = CLAIM_PATH
    issues = []
    if claim.get("use") != "preauthorization":
        issues.append(Issue("value", f"Claim.use must be 'preauthorization', not {claim.get('use')!r}",
                            expression=[f"{p}.use"]))
    if claim.get("status") != "active":
        issues.append(Issue("value", f"Claim.status must be 'active', not {claim.get('status')!r}",
                            expression=[f"{p}.status"]))
    if claim_identifier(claim) is None:
        issues.append(Issue("required", "Claim.identifier (with a value) is required",
                            expression=[f"{p}.identifier"]))
    for field in ("patient", "insurer", "provider"):
        ref = claim.get(field)
        if not isinstance(ref, dict) or not (ref.get("reference") or ref.get("identifier")):
            issues.append(Issue("required", f"Claim.{field} is required", expression=[f"{p}.{field}"]))
        elif not ref.get("reference") and inquiry:
            issues.append(Issue("required", f"Claim.{field} must reference a resource in the Bundle",
                                expression=[f"{p}.{field}"]))
    for path, ref in references(claim, p):
        if ref.startswith("#"):
            continue
        if index.resolve(ref) is None:
            issues.append(Issue("not-found", f"reference {ref!r} does not resolve to an entry of the Bundle",
                                expression=[path]))
    items = claim.get("item") or []
    if not items and not inquiry:
        issues.append(Issue("required", "Claim.item: at least one item is required", expression=[f"{p}.item"]))
    if not inquiry:
        for i, item in enumerate(items):
            if item_extension_code(item, EXT_REQUEST_TYPE) is None:
                issues.append(Issue("required", "item needs the requestType extension (X12 1525)",
                                    expression=[f"{p}.item[{i}].extension"]))
            if certification_type(item) is None:
                issues.append(Issue("required", "item needs the certificationType extension (X12 1322)",
                                    expression=[f"{p}.item[{i}].extension"]))
    return issues


def _validate(bundle: dict, *, inquiry: bool, validated: dict | None = None) -> dict:
    issues = structure_issues(bundle, validated)
    if issues:
        raise BadRequest(issues)
    issues = _bundle_rules(bundle, inquiry=inquiry)
    entries = bundle.get("entry") or []
    claim = entries[0]["resource"] if entries and entries[0]["resource"].get("resourceType") == "Claim" else None
    if claim is not None:
        issues += _claim_rules(claim, BundleIndex(bundle), inquiry=inquiry)
    if issues:
        raise Unprocessable(issues[:MAX_ISSUES])
    return claim


def validate_request_bundle(bundle: dict, *, validated: dict | None = None) -> dict:
    """Raise BadRequest/Unprocessable, or return the Claim (the first entry). `validated`: see
    structure_issues (the checked Claim, validated once per request)."""
    return _validate(bundle, inquiry=False, validated=validated)


def validate_inquiry_bundle(bundle: dict) -> dict:
    """The same Bundle rules; the inquiry Claim must name patient, provider and insurer."""
    return _validate(bundle, inquiry=True)


# -- who is asking ------------------------------------------------------------------------------

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"


def _text(value: Any) -> str | None:
    """A non-empty string, else None: resources other than the Claim are not validated, and a
    list or number where a string belongs was a 500 (found by fuzzing)."""
    return value if isinstance(value, str) and value else None


def _identifier_values(resource: dict | None, system: str | None = None) -> list[str]:
    out = []
    idents = resource.get("identifier") if isinstance(resource, dict) else None
    for ident in idents if isinstance(idents, list) else []:
        if isinstance(ident, dict) and _text(ident.get("value")) and (system is None or ident.get("system") == system):
            out.append(ident["value"])
    return out


def provider_npis(index: BundleIndex, ref: dict | None) -> list[str]:
    """NPIs of the provider a Claim names (a PractitionerRole counts for its practitioner and
    organization too); an identifier-only reference counts if it is an NPI."""
    ident = ref.get("identifier") if isinstance(ref, dict) else None
    if isinstance(ident, dict) and ident.get("system") == NPI_SYSTEM and _text(ident.get("value")):
        return [ident["value"]]
    resource = index.resolve_resource(ref)
    npis = _identifier_values(resource, NPI_SYSTEM)
    if resource and resource.get("resourceType") == "PractitionerRole":
        for key in ("practitioner", "organization"):
            npis += _identifier_values(index.resolve_resource(resource.get(key)), NPI_SYSTEM)
    return npis


def member_ids(index: BundleIndex, claim: dict) -> set[str]:
    """Every identifier the member is known by in the Bundle (Patient identifiers, Coverage
    subscriberId and identifiers): the inquiry may name the member either way."""
    patient_entry = index.resolve((claim.get("patient") or {}).get("reference"))
    patient = patient_entry.resource if patient_entry else None
    ids = set(_identifier_values(patient))
    if patient and _text(patient.get("id")):
        ids.add(patient["id"])
    coverages = [index.resolve_resource(i.get("coverage")) for i in claim.get("insurance") or []
                 if isinstance(i, dict)]
    for cov in coverages:
        if cov:
            ids.update(_identifier_values(cov))
            if _text(cov.get("subscriberId")):
                ids.add(cov["subscriberId"])
    return ids


def payer_ids(index: BundleIndex, claim: dict) -> set[str]:
    ref = claim.get("insurer") or {}
    insurer = index.resolve_resource(ref)
    ids = set(_identifier_values(insurer))
    for value in ((insurer or {}).get("id"), (insurer or {}).get("name"), ref.get("reference"),
                  (ref.get("identifier") or {}).get("value")):
        if _text(value):
            ids.add(value)
    return ids
