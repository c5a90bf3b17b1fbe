"""What a renderer needs besides the Decision: the call's orders, coverage and options."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from cards.configuration import CrdConfiguration


DEMO_REVIEW_CONTACT = "the oncology review line, 1-800-555-0134 (Mon–Fri 8 am–6 pm ET)"
DEMO_PHARMACY_CONTACT = "the plan's pharmacy benefit manager (PBM), 1-800-555-0178"


@dataclass(frozen=True)
class ServiceInfo:
    """What the cards need to know about this service: where it is (links), how a clinician
    reaches a reviewer, and the key that signs worksheet links. From the app's configuration."""
    base_url: str | None = None
    review_contact: str = DEMO_REVIEW_CONTACT
    pharmacy_contact: str = DEMO_PHARMACY_CONTACT
    link_key: str | None = None

    @classmethod
    def from_config(cls, config, base_url: str | None) -> "ServiceInfo":
        return cls(base_url=(base_url or "").rstrip("/") or None,
                   review_contact=config.get("PAYER_REVIEW_CONTACT") or DEMO_REVIEW_CONTACT,
                   pharmacy_contact=config.get("PHARMACY_BENEFIT_CONTACT") or DEMO_PHARMACY_CONTACT,
                   link_key=config.get("SECRET_KEY") or None)


@dataclass
class RenderContext:
    hook: str                              # order-sign | order-select
    hook_instance: str
    payer_name: str
    draft_orders: list[dict]               # every draft order, as sent
    targets: list[dict]                    # the orders we advise on (selections for order-select)
    today: date
    coverage_ref: dict | None = None       # Reference to the client's Coverage
    coverage_state: str = "present"        # present | none | unavailable
    coverage_problem: str | None = None    # why coverage could not be read
    order_id: str | None = None            # set once order-sign stored the case
    configuration: CrdConfiguration = field(default_factory=CrdConfiguration)
    knowledge: Any = None                  # server.knowledge.model.Knowledge
    worksheet_url: Callable[[str | None], str] | None = None
    notes: list[str] = field(default_factory=list)   # optional data we could not read
    service: ServiceInfo = field(default_factory=ServiceInfo)
    memo: dict = field(default_factory=dict, repr=False, compare=False)   # per-render facts, computed once

    @property
    def primary(self) -> bool:
        """order-sign is a CRD 'primary' hook: clinical/admin doc-needed is allowed (hook-19)."""
        return self.hook == "order-sign"


def ref_of(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def words_of(resource: dict) -> str:
    """An order in words for a clinician: its display, never its resource id."""
    text = display_of(resource)
    return "an order with no drug name" if text == ref_of(resource) else text


def display_of(resource: dict) -> str:
    """Words for an order: the medication or service text, else its reference."""
    for key in ("medicationCodeableConcept", "code", "codeCodeableConcept"):
        cc = resource.get(key)
        if isinstance(cc, dict):
            if isinstance(cc.get("text"), str) and cc["text"].strip():
                return cc["text"].strip()
            codings = cc.get("coding")
            for coding in codings if isinstance(codings, list) else []:
                if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                    return coding["display"]
    ref = resource.get("medicationReference")
    if isinstance(ref, dict) and isinstance(ref.get("display"), str):
        return ref["display"]
    return ref_of(resource)
