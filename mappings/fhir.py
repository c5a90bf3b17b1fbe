"""Shared FHIR plumbing for the mappings: parsing with clear errors, codes, references, tables.

Only the resources a mapping consumes are validated (against the fhir.resources R4B models'
definitions, compiled by `mappings.structure`); everything else stays plain JSON. A pydantic
ValidationError becomes a `BadRequest` whose Issue names the element path, e.g.
`Bundle.entry[2].resource.dosageInstruction[0].timing`.
"""
from __future__ import annotations

from datetime import date, datetime
import copy
from typing import Any, Iterable

from pydantic import ValidationError

from server.domain.order import Code
from server.errors import BadRequest, Issue

from mappings import structure

_TABLES: dict[str, dict] | None = None


def use_tables(tables: dict[str, dict]) -> None:
    """The program tables of the knowledge base in use (`Knowledge.program`, loaded and checked
    at start-up; see server/knowledge/loader.py). The app calls this once it has loaded its
    knowledge base; until then the bundled tables are used."""
    global _TABLES
    if tables is not _TABLES:
        _TABLES = tables
        _INDEXES.clear()


def table(name: str) -> dict:
    """One of the program's code tables (server/knowledge/data/program/<name>.yaml)."""
    if _TABLES is None:
        from server.knowledge.loader import load_knowledge

        use_tables(load_knowledge().program)
    return _TABLES[name]


def system(key: str) -> str:
    """The URI of a code system by its short key (`rxnorm`, `loinc`, ...) or the URI itself."""
    return table("systems").get(key, key)


def canonical_system(uri: str) -> str:
    """The canonical URI for a known variant (e.g. https:// RxNorm), else the URI as sent."""
    return table("systems")["aliases"].get(uri, uri)


# --- parsing ---------------------------------------------------------------------------------

# The resource types the mappings validate and read (see `parse` calls); the rest stays JSON.
CONSUMED_RESOURCE_TYPES = ("MedicationRequest", "Medication", "Condition", "Observation", "Patient",
                           "Coverage", "Practitioner", "PractitionerRole", "Organization", "Claim", "Bundle")


def parse(resource: Any, path: str, expected: str | Iterable[str] | None = None):
    """Validate one resource dict against its R4B definition and return it as a read-only
    `structure.Element`; raise BadRequest naming `path` on failure."""
    if not isinstance(resource, dict):
        raise BadRequest(Issue("structure", f"{path} is not a JSON object", expression=[path]))
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise BadRequest(Issue("structure", f"{path} has no resourceType", expression=[path]))
    if expected is not None:
        allowed = (expected,) if isinstance(expected, str) else tuple(expected)
        if rtype not in allowed:
            raise BadRequest(Issue(
                "structure", f"{path} is a {rtype}, expected {' or '.join(allowed)}",
                expression=[path]))
    try:
        check = structure.validator(rtype)
    except KeyError:
        raise BadRequest(Issue("structure", f"{path}: unknown resourceType {rtype!r}",
                               expression=[path])) from None
    try:
        return structure.Element(check.validate_python(resource))
    except ValidationError as exc:
        lenient = _repeating_elements_as_lists(resource, exc)
        if lenient is None:
            raise _bad_request(exc, rtype, path) from None
    try:
        return structure.Element(check.validate_python(lenient))
    except ValidationError as exc:
        raise _bad_request(exc, rtype, path) from None


def _repeating_elements_as_lists(resource: dict, exc: ValidationError) -> dict | None:
    """A repeating (0..*) element sent as one object is read as a one-item list: the CDS Hooks
    Sandbox sends MedicationRequest.category that way (an STU3 habit). Only that kind of error
    is forgiven; a copy is corrected, the request itself is kept as sent. None: nothing to fix."""
    fixed, changed = copy.deepcopy(resource), False
    for err in exc.errors():
        loc = err.get("loc", ())
        if err.get("type") != "list_type" or not isinstance(err.get("input"), dict) or not loc:
            continue
        node = fixed
        try:
            for part in loc[:-1]:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(node, dict) and isinstance(node.get(loc[-1]), dict):
            node[loc[-1]] = [node[loc[-1]]]
            changed = True
    return fixed if changed else None


def _bad_request(exc: ValidationError, rtype: str, path: str) -> BadRequest:
    issues = []
    for err in exc.errors()[:5]:
        where = _loc_path(path, err.get("loc", ()))
        msg = err.get("msg", "invalid value")
        issues.append(Issue("structure", f"Invalid {rtype} at {where}: {msg}", expression=[where]))
    if not issues:
        issues.append(Issue("structure", f"Invalid {rtype} at {path}", expression=[path]))
    return BadRequest(issues)


def _loc_path(prefix: str, loc: Iterable[Any]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith("__") and "[" not in part:
            out += f".{part}"
    return out


# --- raw JSON (resources not validated on the hot path) ------------------------------------

def obj(value) -> dict:
    """`value` if it is a JSON object, else {} (raw JSON is read defensively, never trusted)."""
    return value if isinstance(value, dict) else {}


def arr(value) -> list:
    return value if isinstance(value, list) else []


def raw_reference(element) -> str | None:
    ref = obj(element).get("reference")
    return ref if isinstance(ref, str) else None


def raw_profiles(resource: dict) -> set[str]:
    return {str(p).split("|")[0] for p in arr(obj(resource.get("meta")).get("profile"))}


# --- codes -----------------------------------------------------------------------------------

def codings(concept) -> list:
    """The codings of a CodeableConcept model (empty when absent)."""
    return list(getattr(concept, "coding", None) or []) if concept is not None else []


def to_code(coding) -> Code | None:
    if coding is None or not coding.code:
        return None
    return Code(system=canonical_system(coding.system or ""), code=coding.code, display=coding.display)


def codes_in(concept, systems: Iterable[str] | None = None) -> tuple[Code, ...]:
    wanted = {system(s) for s in systems} if systems is not None else None
    out = []
    for c in codings(concept):
        code = to_code(c)
        if code and (wanted is None or code.system in wanted):
            out.append(code)
    return tuple(out)


def has_code(concept, sys_key: str, code: str) -> bool:
    uri = system(sys_key)
    return any(c.system == uri and c.code == code for c in codings(concept))


def lookup(concept, entries: list[dict]):
    """The first table entry {system, code, ...} matching a coding of `concept`."""
    index = _index(id(entries), entries)
    for c in codings(concept):
        hit = index.get((c.system, c.code))
        if hit is not None:
            return hit
    return None


_INDEXES: dict[int, dict] = {}


def _index(key: int, entries: list[dict]) -> dict:
    idx = _INDEXES.get(key)
    if idx is None:
        idx = {(system(e["system"]), str(e["code"])): e for e in entries}
        _INDEXES[key] = idx
    return idx


def concept_text(concept) -> str:
    """Text of a CodeableConcept: its text, else the first display."""
    if concept is None:
        return ""
    if getattr(concept, "text", None):
        return concept.text
    for c in codings(concept):
        if c.display:
            return c.display
    return ""


def extensions(element, urls: str | Iterable[str]) -> list:
    wanted = {urls} if isinstance(urls, str) else set(urls)
    return [e for e in (getattr(element, "extension", None) or []) if e.url in wanted]


def profiles(resource) -> list[str]:
    meta = getattr(resource, "meta", None)
    return [str(p).split("|")[0] for p in (getattr(meta, "profile", None) or [])]


# --- identifiers, dates ----------------------------------------------------------------------

def identifier_value(identifiers, sys_key: str) -> str | None:
    uri = system(sys_key)
    for ident in identifiers or []:
        if ident.system == uri and ident.value:
            return ident.value
    return None


def as_date(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        if len(text) >= 10:
            return date.fromisoformat(text[:10])
    except ValueError:
        return None
    return None   # year or year-month only: not a treatment date


# --- references ------------------------------------------------------------------------------

class ResourceIndex:
    """Look resources up by `Type/id` or by Bundle fullUrl (raw JSON dicts, with their path).
    The one reference-resolution rule of the mappings: exact key, then the reference's last
    `Type/id`, then a versioned reference without its `_history` part."""

    def __init__(self):
        self._by_key: dict[str, tuple[dict, str]] = {}

    @classmethod
    def of_bundle(cls, bundle: dict) -> "ResourceIndex":
        """Every entry resource of a Bundle (malformed entries skipped: the checks report them)."""
        index = cls()
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        for i, e in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                url = e.get("fullUrl")
                index.add(e["resource"], f"Bundle.entry[{i}].resource", url if isinstance(url, str) else None)
        return index

    def resolve_resource(self, element) -> dict | None:
        """The resource a Reference element (a JSON object with `reference`) points to."""
        return self.resolve(raw_reference(element))[0]

    def add(self, resource: dict, path: str, full_url: str | None = None) -> None:
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if rtype and rid:
            self._by_key.setdefault(f"{rtype}/{rid}", (resource, path))
        if full_url:
            self._by_key.setdefault(full_url, (resource, path))

    def resolve(self, reference: str | None) -> tuple[dict, str] | tuple[None, None]:
        if not reference:
            return None, None
        hit = self._by_key.get(reference)
        if hit is None and "/" in reference:
            parts = reference.rstrip("/").split("/")
            if len(parts) >= 2:
                hit = self._by_key.get(f"{parts[-2]}/{parts[-1]}")
            if hit is None and len(parts) >= 4 and parts[-2] == "_history":
                hit = self._by_key.get(f"{parts[-4]}/{parts[-3]}")
        return hit if hit is not None else (None, None)
