"""The PAS door's requests, read once: a `Claim/$submit` or `Claim/$inquire` Bundle becomes a
typed request object, built from one Bundle index with one reference-resolution rule
(`mappings.fhir.ResourceIndex`). Nothing outside `mappings/` reads the Bundle's JSON.

- `operation_bundle(body, max_entries)`: the Bundle of an operation body (the Bundle itself, or
  `Parameters.parameter[name=resource]`), 400 / 413 otherwise.
- `read_submission(bundle, received_at)`: checks (400/422, `mappings.pas_checks`) and then
  what the case service needs: the Claim's request key, the submitter's identifiers, the
  related (earlier) Claim, the items cancelled, and the Order (mapped on first use).
- `read_inquiry(bundle)`: member, provider and payer identifiers and the Order IDs asked about.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from mappings import pas_checks
from mappings.bundles import content_fingerprint
from mappings.fhir import ResourceIndex, arr, obj
from mappings.pas_claim import order_from_pas_bundle
from server.domain.order import Order
from server.errors import BadRequest, Issue, PayloadTooLarge, Unprocessable

CLAIM_PATH = pas_checks.CLAIM_PATH
_REF_EXTENSIONS = (pas_checks.PAS_SD + "extension-authorizationNumber",
                   pas_checks.PAS_SD + "extension-administrationReferenceNumber")
ORDER_ID_PREFIX = "ONC-"
# Bundle members that change from one transmission of the same request to the next: a retry
# that differs only in these is the same request (idempotency, server/cases/idempotency.py).
TRANSMISSION_FIELDS = ("id", "meta", "timestamp", "identifier", "signature")


def operation_bundle(body: object, max_entries: int) -> dict:
    """The Bundle an operation was sent: the body, or Parameters.parameter[resource]."""
    if not isinstance(body, dict):
        raise BadRequest(Issue("structure", "the body must be a JSON object (a FHIR Bundle)",
                               expression=["Bundle"]))
    if body.get("resourceType") == "Parameters":
        found = [p.get("resource") for p in arr(body.get("parameter"))
                 if isinstance(p, dict) and p.get("name") == "resource"]
        if len(found) != 1 or not isinstance(found[0], dict):
            raise BadRequest(Issue("required", "Parameters must carry exactly one parameter "
                                   "'resource' holding the request Bundle",
                                   expression=["Parameters.parameter"]))
        body = found[0]
    if body.get("resourceType") != "Bundle":
        raise BadRequest(Issue("structure", f"expected a Bundle, got resourceType "
                               f"{body.get('resourceType')!r}", expression=["Bundle.resourceType"]))
    entries = body.get("entry")
    if isinstance(entries, list) and len(entries) > max_entries:
        raise PayloadTooLarge(Issue("too-costly", f"the Bundle has {len(entries)} entries; at most "
                                    f"{max_entries} are accepted (MAX_BUNDLE_ENTRIES)",
                                    expression=["Bundle.entry"]))
    return body


def request_key(identifier: tuple[str, str]) -> str:
    """A Claim's idempotency key: its identifier (system + value)."""
    system, value = identifier
    return f"pas|{system}|{value}"


@dataclass
class PasSubmission:
    """A checked `$submit` Bundle and what the case service needs of it."""
    bundle: dict
    received_at: datetime
    request_key: str
    submitter_npis: tuple[str, ...]
    submitter_ids: frozenset[str]          # every identifier a Subscription may name the submitter by
    related_key: str | None                # the request key of the earlier Claim this one updates
    item_refs: frozenset[str]
    cancelled_refs: frozenset[str]         # items with certificationType 3 (Cancel)
    _claim_model: object = field(default=None, repr=False)

    @property
    def submitter_npi(self) -> str | None:
        return self.submitter_npis[0] if self.submitter_npis else None

    @property
    def cancels_everything(self) -> bool:
        return bool(self.cancelled_refs) and self.cancelled_refs == self.item_refs

    @cached_property
    def fingerprint(self) -> str:
        return request_fingerprint(self.bundle, self.submitter_npis)

    @cached_property
    def order(self) -> Order:
        """The Claim's Order, mapped from the Claim model the checks already validated."""
        return order_from_pas_bundle(self.bundle, received_at=self.received_at, claim_model=self._claim_model)


def request_fingerprint(bundle, submitter_npis) -> str:
    return content_fingerprint(bundle, ignore=TRANSMISSION_FIELDS, salt=submitter_npis)


def read_submission(bundle: dict, received_at: datetime) -> PasSubmission:
    validated: dict = {}
    claim = pas_checks.validate_request_bundle(bundle, validated=validated)
    index = ResourceIndex.of_bundle(bundle)
    items = [i for i in arr(claim.get("item")) if isinstance(i, dict)]
    return PasSubmission(
        bundle=bundle, received_at=received_at,
        request_key=request_key(pas_checks.claim_identifier(claim)),
        submitter_npis=tuple(pas_checks.provider_npis(index, claim.get("provider"))),
        submitter_ids=_submitter_ids(claim, index),
        related_key=_related_key(claim, index),
        item_refs=frozenset(f"item/{i.get('sequence')}" for i in items),
        cancelled_refs=frozenset(f"item/{i.get('sequence')}" for i in items
                                 if pas_checks.certification_type(i) == pas_checks.CERTIFICATION_CANCEL),
        _claim_model=validated.get(0),
    )


def _related_key(claim: dict, index: ResourceIndex) -> str | None:
    for related in arr(claim.get("related")):
        ref = obj(obj(related).get("claim"))
        ident = obj(ref.get("identifier"))
        if ident.get("value"):
            return request_key((ident.get("system") or "", ident["value"]))
        earlier = index.resolve_resource(ref)
        if earlier and earlier.get("resourceType") == "Claim" and earlier is not claim:
            found = pas_checks.claim_identifier(earlier)
            if found:
                return request_key(found)
    return None


def _submitter_ids(claim: dict, index: ResourceIndex) -> frozenset[str]:
    """Identifiers a Subscription's orgIdentifier is matched against: the provider's NPIs and
    other identifiers (a PractitionerRole's practitioner and organization too), and the id in
    a `urn:trnorg:<id>` Claim identifier system."""
    ids = set(pas_checks.provider_npis(index, claim.get("provider")))
    for ident in arr(claim.get("identifier")):
        system = obj(ident).get("system")
        if isinstance(system, str) and system.startswith("urn:trnorg:"):
            ids.add(system.split(":", 2)[2])
    provider = index.resolve_resource(claim.get("provider"))
    resources = [provider] if provider else []
    if provider and provider.get("resourceType") == "PractitionerRole":
        resources += [index.resolve_resource(provider.get("practitioner")),
                      index.resolve_resource(provider.get("organization"))]
    for res in resources:
        for ident in arr(obj(res).get("identifier")):
            value = obj(ident).get("value")
            if isinstance(value, str) and value:
                ids.add(value)
    return frozenset(ids)


def submitter_identifiers(bundle) -> frozenset[str]:
    """`PasSubmission.submitter_ids` of a request Bundle on file (no checks: it was checked
    when it was received)."""
    entries = arr(obj(bundle).get("entry"))
    claim = obj(obj(entries[0]).get("resource")) if entries else {}
    if claim.get("resourceType") != "Claim":
        return frozenset()
    return _submitter_ids(claim, ResourceIndex.of_bundle(bundle))


@dataclass(frozen=True)
class PasInquiry:
    bundle: dict
    member_ids: frozenset[str]
    provider_npis: tuple[str, ...]
    payer_ids: frozenset[str]
    order_ids: frozenset[str]              # Order IDs named in REF-BB / REF-NT, if any


def read_inquiry(bundle: dict) -> PasInquiry:
    claim = pas_checks.validate_inquiry_bundle(bundle)
    index = ResourceIndex.of_bundle(bundle)
    members = pas_checks.member_ids(index, claim)
    npis = pas_checks.provider_npis(index, claim.get("provider"))
    issues = []
    if not members:
        issues.append(Issue("required", "the inquiry must identify the member (Patient identifier "
                            "or Coverage subscriberId)", expression=[f"{CLAIM_PATH}.patient"]))
    if not npis:
        issues.append(Issue("required", "the inquiry must identify the provider by NPI",
                            expression=[f"{CLAIM_PATH}.provider"]))
    if issues:
        raise Unprocessable(issues)
    return PasInquiry(bundle=bundle, member_ids=frozenset(members), provider_npis=tuple(npis),
                      payer_ids=frozenset(pas_checks.payer_ids(index, claim)), order_ids=_order_ids(claim))


def _order_ids(claim: dict) -> frozenset[str]:
    ids = set()
    for item in arr(claim.get("item")):
        for ext in arr(obj(item).get("extension")):
            ext = obj(ext)
            value = ext.get("valueString")
            if ext.get("url") in _REF_EXTENSIONS and isinstance(value, str) and value.startswith(ORDER_ID_PREFIX):
                ids.add(value)
    return frozenset(ids)
