"""The scenario catalogue of GET /sandbox: which fixture gives which answer, found by asking.

Nothing here is written by hand: each request fixture (fixtures/pas, fixtures/hooks) is sent
through the real door of a scratch app (a fresh database per fixture, so that one fixture's
case is not another's duplicate; the sandbox's knowledge base and clock), after the fixtures
it updates or cancels, and the answer is read: the X12 306 action of each item and the case
status for PAS, the cards (indicator, topic, summary) and coverage-information for CDS Hooks.
So when the knowledge base changes (a fact no longer verified pends instead of authorizing),
the catalogue says so at the next start-up. tests/test_sandbox.py sends every entry to the
sandbox itself and checks the claim.

What the engine never answers is said, with the way to get it: A3 (not certified) only by a
physician reviewer after peer-to-peer was offered (the tester endpoint's
`deny-after-peer-to-peer`), and CT (contact payer) never — a pended item is A4 with the review
line in the process notes.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

from mappings.sandbox import (as_new_orders, card_summary, claim_identifiers, coverage_codes, is_inquiry, item_actions,
                              patient_id_for, related_identifiers, response_id, returned_bundles)

SERVICE_FOR_HOOK = {"order-sign": "oncopath-order-sign", "order-select": "oncopath-order-select"}
TESTER_ACTIONS = ("approve", "deny-after-peer-to-peer", "request-information")

NEVER = {
    "A3": "Not certified: the engine never denies. Submit a fixture that pends (A4), then POST "
          "/sandbox/cases/{orderId}/decide {\"action\": \"deny-after-peer-to-peer\"}: the demo physician "
          "offers peer-to-peer and denies, and the answer (and the Subscription notification) carries A3.",
    "CT": "Contact payer: oncopath never answers CT. A pended item is A4, with the review line to call in "
          "the process notes.",
}


class _Scratch:
    """A throwaway app on its own SQLite file: the real doors, nothing of the sandbox's data."""

    def __init__(self, config: dict, clock: Callable):
        import logging

        from server.app import create_app

        self._dir = tempfile.TemporaryDirectory(prefix="oncopath-catalogue-")
        # A scratch app's FHIR door is open on purpose (it is never served): not worth the
        # start-up warning an open door gets.
        smart_log = logging.getLogger("server.http.smart")
        level = smart_log.level
        smart_log.setLevel(logging.ERROR)
        try:
            self.app = create_app({
                "TESTING": True, "DATABASE_URL": f"sqlite:///{Path(self._dir.name) / 'scratch.db'}",
                "KNOWLEDGE_DIR": config.get("KNOWLEDGE_DIR"), "CDS_JWT_REQUIRED": False, "FHIR_AUTH_REQUIRED": False,
                "NOTIFY_WORKER": False, "SANDBOX": False,
                "PUBLIC_BASE_URL": config.get("PUBLIC_BASE_URL") or "http://localhost",
                "PAYER_NAME": config.get("PAYER_NAME")})
        finally:
            smart_log.setLevel(level)
        self.app.extensions["oncopath.clock"] = clock
        from flask.testing import FlaskClient
        self.client = FlaskClient(self.app)

    def post(self, path: str, body: dict):
        return self.client.post(path, json=body)

    def close(self):
        self.app.extensions["oncopath.store"].dispose()
        self._dir.cleanup()


def _load(directory: Path) -> dict[str, dict]:
    return {f"{directory.name}/{p.name}": json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def build(config: dict, fixtures_dir: Path, clock: Callable, *, base_url: str = "") -> dict:
    from server.sandbox import demo

    pas = _load(fixtures_dir / "pas")
    hooks = _load(fixtures_dir / "hooks")
    requests = {n: b for n, b in pas.items() if not is_inquiry(b)}
    firsts = [n for n, b in requests.items() if not related_identifiers(b)]
    pas_entries, inquiry_entries, hook_entries = [], [], []

    for name, bundle in requests.items():
        after = [n for n, b in requests.items() if n != name and claim_identifiers(b) & related_identifiers(bundle)]
        scratch = _Scratch(config, clock)
        try:
            for earlier in after:
                scratch.post("/fhir/Claim/$submit", requests[earlier])
            resp = scratch.post("/fhir/Claim/$submit", bundle)
            body = resp.get_json() or {}
            entry = {"fixture": name, "url": f"{base_url}/sandbox/fixtures/{name}", "door": "Claim/$submit",
                     "submitFirst": after, "httpStatus": resp.status_code}
            if resp.status_code == 200:
                record = scratch.app.extensions["oncopath.store"].get_case(response_id(body))
                entry.update(actions=item_actions(body),
                             caseStatus=record.status if record else None,
                             kind="cancel" if set(item_actions(body).values()) == {"C"} and after
                             else "update" if after else "new request")
            pas_entries.append(entry)
        finally:
            scratch.close()

    for name, bundle in pas.items():
        if not is_inquiry(bundle):
            continue
        scratch = _Scratch(config, clock)
        try:
            ids = {}
            for first in firsts:
                resp = scratch.post("/fhir/Claim/$submit", requests[first])
                if resp.status_code == 200:
                    ids[response_id(resp.get_json())] = first
            resp = scratch.post("/fhir/Claim/$inquire", bundle)
            found = [ids.get(response_id(b), "?") for b in returned_bundles(resp.get_json())]
            inquiry_entries.append({"fixture": name, "url": f"{base_url}/sandbox/fixtures/{name}",
                                    "door": "Claim/$inquire", "httpStatus": resp.status_code,
                                    "findsCasesOf": found})
        finally:
            scratch.close()

    for name, request in hooks.items():
        hook = request.get("hook") if isinstance(request, dict) else None
        service = SERVICE_FOR_HOOK.get(hook)
        if service is None:
            continue
        scratch = _Scratch(config, clock)
        try:
            calls = [("as it is", request)] + ([("ordered again as new orders after the first call",
                                                 as_new_orders(request))] if hook == "order-sign" else [])
            for sent, body_sent in calls:
                resp = scratch.post(f"/cds-services/{service}", body_sent)
                body = resp.get_json() or {}
                hook_entries.append({"fixture": name, "sent": sent, "url": f"{base_url}/sandbox/fixtures/{name}",
                                     "hook": hook, "service": f"/cds-services/{service}",
                                     "httpStatus": resp.status_code, "demoPatient": patient_id_for(name),
                                     "cards": card_summary(body), "paNeeded": coverage_codes(body)})
        finally:
            scratch.close()

    return {
        "mode": "sandbox",
        "computedAt": clock().isoformat(),
        "demo": {
            "client": {"client_id": demo.CLIENT_ID, "privateKey": f"{base_url}/sandbox/demo-client-key.pem",
                       "tokenUrl": f"{base_url}/oauth/token", "alg": "ES384",
                       "organizations": demo.organizations(fixtures_dir)},
            "reviewer": dict(demo.REVIEWER),
        },
        "note": ("Each answer is the one a fixture gets on a database without other cases of the same member: "
                 "sent again with new identifiers, a request for a member with an overlapping case on file is also "
                 "a possible duplicate (R8) and may pend for that."),
        "scenarios": scenarios(pas_entries),
        "pas": pas_entries,
        "inquiries": inquiry_entries,
        "cdsHooks": hook_entries,
        "cardTypes": card_types(hook_entries),
        "cardTypesNoFixtureGives": missing_card_types(hook_entries),
        "tester": {"decide": f"{base_url}/sandbox/cases/{{orderId}}/decide", "actions": list(TESTER_ACTIONS),
                   "as": demo.REVIEWER["username"]},
        "fhir": {"base": f"{base_url}/sandbox/fhir",
                 "reads": ["Patient/{id}", "Practitioner/{id}", "Condition?patient=", "Observation?patient=",
                           "MedicationRequest?patient=", "MedicationAdministration?patient=",
                           "Coverage?patient=", "QuestionnaireResponse?patient="]},
    }


def scenarios(pas_entries: list[dict]) -> dict[str, dict]:
    """X12 306 code (and cancel / update) ⇒ the fixtures that give it now, or how to get it."""
    out: dict[str, dict] = {}
    for code in ("A1", "A4", "NA", "A3", "CT", "C"):
        having = [e["fixture"] for e in pas_entries if code in (e.get("actions") or {}).values()]
        if having:
            out[code] = {"fixtures": having}
        elif code in NEVER:
            out[code] = {"fixtures": [], "how": NEVER[code]}
        elif code == "A1":
            out[code] = {"fixtures": [], "how": "no fixture is authorized by the engine alone at present: submit "
                         "one that pends (A4) and POST /sandbox/cases/{orderId}/decide {\"action\": \"approve\"}"}
        else:
            out[code] = {"fixtures": []}
    for kind in ("cancel", "update"):
        out[kind] = {"fixtures": [e["fixture"] for e in pas_entries if e.get("kind") == kind],
                     "submitFirst": sorted({f for e in pas_entries if e.get("kind") == kind for f in e["submitFirst"]})}
    return out


def card_types(hook_entries: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in hook_entries:
        for card in e["cards"]:
            key = f"{card['topic']} ({card['indicator']})"
            label = e["fixture"] if e["sent"] == "as it is" else f"{e['fixture']} ({e['sent']})"
            if label not in out.setdefault(key, []):
                out[key].append(label)
    return dict(sorted(out.items()))


def missing_card_types(hook_entries: list[dict]) -> list[str]:
    """Card types the discovery document offers (davinci-crd.configuration-options) that no
    fixture's answer carries."""
    from server.hooks.registry import CARD_TYPES

    seen = {card["topic"] for e in hook_entries for card in e["cards"]}
    return sorted(CARD_TYPES - seen)
