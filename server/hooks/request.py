"""A CDS Hooks call, parsed and checked. Anything malformed is a 400 with an OperationOutcome."""
from __future__ import annotations

from dataclasses import dataclass, field

from server.errors import BadRequest, Issue
from server.http import limits
from mappings.bundles import resource_type
from mappings.draft_orders import draft_orders_of, order_ref, unwrap_legacy_prefetch
from cards.configuration import CrdConfiguration
from server.hooks.registry import CARD_OPTIONS, HookService


@dataclass
class HookRequest:
    hook: str
    hook_instance: str
    context: dict
    patient_id: str
    user_id: str | None
    encounter_id: str | None
    draft_orders: list[dict]                 # the draftOrders Bundle's resources, in order
    selections: list[str] | None             # order-select only
    fhir_server: str | None
    access_token: str | None
    prefetch: dict                           # key -> value (may hold None = "no data")
    configuration: CrdConfiguration
    raw: dict = field(repr=False, default_factory=dict)

    def ref(self, resource: dict) -> str:
        return order_ref(resource)

    @property
    def targets(self) -> list[dict]:
        """The orders this call advises on: the selections (order-select) or every draft order."""
        if self.selections is None:
            return list(self.draft_orders)
        wanted = set(self.selections)
        return [r for r in self.draft_orders if self.ref(r) in wanted]


def _bad(diagnostics: str, expression: str, code: str = "invalid") -> BadRequest:
    return BadRequest(Issue(code, diagnostics, expression=[expression]))


def _string(obj: dict, key: str, where: str, required: bool, max_length: int | None = None) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _bad(f"{where}{key} is required", f"{where}{key}", "required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where}{key} must be a non-empty string", f"{where}{key}")
    limit = max_length or int(limits.setting("MAX_IDENTIFIER_LENGTH"))
    if len(value) > limit and key != "access_token":
        raise _bad(f"{where}{key} is longer than {limit} characters (MAX_IDENTIFIER_LENGTH)", f"{where}{key}",
                   "too-long")
    return value


def parse(body: object, service: HookService) -> HookRequest:
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", "$", "structure")
    hook = _string(body, "hook", "", True)
    hook_instance = _string(body, "hookInstance", "", True)
    if hook != service.hook:
        raise _bad(f"service {service.id} answers the {service.hook} hook, not {hook}", "hook", "not-supported")
    context = body.get("context")
    if not isinstance(context, dict):
        raise _bad("context is required and must be an object", "context", "required")
    patient_id = _string(context, "patientId", "context.", True)
    user_id = _string(context, "userId", "context.", False)
    encounter_id = _string(context, "encounterId", "context.", False)
    draft_orders = draft_orders_of(context, max_entries=int(limits.setting("MAX_BUNDLE_ENTRIES")))
    selections = None
    if hook == "order-select":
        selections = _selections(context, draft_orders)

    fhir_server = _string(body, "fhirServer", "", False, max_length=2048)
    access_token = None
    auth = body.get("fhirAuthorization")
    if auth is not None:
        if not isinstance(auth, dict):
            raise _bad("fhirAuthorization must be an object", "fhirAuthorization")
        if fhir_server is None:
            raise _bad("fhirServer is required when fhirAuthorization is sent", "fhirServer", "required")
        access_token = _string(auth, "access_token", "fhirAuthorization.", True)
    if fhir_server is not None and not fhir_server.startswith(("http://", "https://")):
        raise _bad("fhirServer must be an http(s) URL", "fhirServer")
    if fhir_server is not None and (len(fhir_server) > 2048 or "@" in fhir_server.split("/", 3)[2]
                                    or "#" in fhir_server or "?" in fhir_server):
        raise _bad("fhirServer must be a FHIR base URL, without user, query or fragment", "fhirServer")

    prefetch = body.get("prefetch", {})
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise _bad("prefetch must be an object", "prefetch")
    # Only the keys this service declared are read; others (a client's own, or another
    # service's) are ignored rather than refused, as CDS Hooks clients may send extra keys.
    prefetch = {k: unwrap_legacy_prefetch(v) for k, v in prefetch.items() if k in service.prefetch}
    for key, value in prefetch.items():
        if value is not None and resource_type(value) is None:
            raise _bad(f"prefetch.{key} must be a FHIR resource or null", f"prefetch.{key}")
        limits.check_bundle_entries(value, f"prefetch.{key}.entry")
        limits.check_identifiers(value, f"prefetch.{key}")
    limits.check_identifiers(draft_orders, "context.draftOrders.entry")
    # CDS Hooks: fhirAuthorization is transient. It is used for this call's reads and never
    # stored with the case (nor logged).
    stored = {k: v for k, v in body.items() if k != "fhirAuthorization"} if "fhirAuthorization" in body else body

    return HookRequest(hook=hook, hook_instance=hook_instance, context=context, patient_id=patient_id,
                       user_id=user_id, encounter_id=encounter_id, draft_orders=draft_orders,
                       selections=selections, fhir_server=fhir_server, access_token=access_token,
                       prefetch=prefetch, configuration=_configuration(body.get("extension")), raw=stored)


def _selections(context: dict, draft_orders: list[dict]) -> list[str]:
    selections = context.get("selections")
    if not isinstance(selections, list) or not selections or not all(isinstance(s, str) for s in selections):
        raise _bad("context.selections is required for order-select: an array of references",
                   "context.selections", "required")
    known = {order_ref(r) for r in draft_orders}
    missing = [s for s in selections if s not in known]
    if missing:
        raise _bad(f"context.selections names orders not in draftOrders: {', '.join(missing)}",
                   "context.selections", "value")
    return selections


def _configuration(extension: object) -> CrdConfiguration:
    if not isinstance(extension, dict):
        return CrdConfiguration()
    raw = extension.get("davinci-crd.configuration")
    if not isinstance(raw, dict):
        return CrdConfiguration()
    known = {o.code: o for o in CARD_OPTIONS}
    disabled = set()
    max_cards = 10
    for key, value in raw.items():
        option = known.get(key)
        if option is None:
            continue  # CRD dev-16: ignore options we do not offer
        if option.type == "boolean":
            if not isinstance(value, bool):
                raise _bad(f"configuration option {key} must be a boolean",
                           f'extension["davinci-crd.configuration"].{key}')
            if value is False:
                disabled.add(key)
        else:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _bad(f"configuration option {key} must be a non-negative integer",
                           f'extension["davinci-crd.configuration"].{key}')
            max_cards = value
    return CrdConfiguration(frozenset(disabled), max_cards)
