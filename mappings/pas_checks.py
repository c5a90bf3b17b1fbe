"""Checks on PAS request and inquiry Bundles, before anything is mapped or stored.

Order of the checks, and what they answer (the body itself — JSON, size, depth, text — was
checked by server/http/body.py, and `mappings.pas_request.operation_bundle` took the Bundle
out of it):
1. structure: the Bundle shell and the Claim validated against the R4B definitions
   (`mappings.structure`, compiled from the fhir.resources models) ⇒ 400,
   one issue per problem with a FHIRPath-ish `expression` (base FHIR cardinality, e.g. a
   Claim without patient or provider, is structure; PAS's own additions, e.g. insurer 1..1,
   are rules);
2. PAS rules (Bundle.fsh, Claim.fsh) ⇒ 422 with every broken rule in one OperationOutcome:
   type collection, identifier, timestamp, fullUrl on every entry, the Claim first,
   use preauthorization, status active, identifier, patient, insurer, provider, every
   reference in the Claim resolvable inside the Bundle, and per item the requestType and
   certificationType extensions.
Only resources the decision reads are validated this way; the rest stays JSON.
"""
from __future__ import annotations

from typing import Any, Iterator

import pydantic

from mappings import structure
from mappings.fhir import ResourceIndex
from server.errors import BadRequest, Issue, Unprocessable

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
EXT_REQUEST_TYPE = (PAS_SD + "extension-serviceItemRequestType", PAS_SD + "extension-requestType")
EXT_CERTIFICATION_TYPE = PAS_SD + "extension-certificationType"
CERTIFICATION_CANCEL = "3"   # X12 1322: Cancel
MAX_ISSUES = 50

CLAIM_PATH = "Bundle.entry[0].resource"


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


def _claim_rules(claim: dict, index: ResourceIndex, *, inquiry: bool) -> list[Issue]:
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
    # A submission is decided from the whole Bundle: every reference must resolve. An inquiry
    # needs only whom it is about (patient, provider, insurer): other references may be left
    # out of it (PAS inquiry; test kits send a Claim naming a ServiceRequest they do not include).
    needed = {f"{p}.{field}" for field in ("patient", "insurer", "provider")} if inquiry else None
    for path, ref in references(claim, p):
        if ref.startswith("#") or (needed is not None and path not in needed):
            continue
        if index.resolve(ref)[0] is None:
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
        issues += _claim_rules(claim, ResourceIndex.of_bundle(bundle), inquiry=inquiry)
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


def provider_npis(index: ResourceIndex, ref: dict | None) -> list[str]:
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


def member_ids(index: ResourceIndex, claim: dict) -> set[str]:
    """Every identifier the member is known by in the Bundle (Patient identifiers, Coverage
    subscriberId and identifiers): the inquiry may name the member either way."""
    patient = index.resolve_resource(claim.get("patient"))
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


def payer_ids(index: ResourceIndex, claim: dict) -> set[str]:
    ref = claim.get("insurer") or {}
    insurer = index.resolve_resource(ref)
    ids = set(_identifier_values(insurer))
    for value in ((insurer or {}).get("id"), (insurer or {}).get("name"), ref.get("reference"),
                  (ref.get("identifier") or {}).get("value")):
        if _text(value):
            ids.add(value)
    return ids
