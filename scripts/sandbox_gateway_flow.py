"""A payer gateway's whole flow against an oncopath sandbox, over HTTP, loopback only.

    python scripts/sandbox_gateway_flow.py --base http://127.0.0.1:8080 [--json] [--timeout 30]

Against `oncopath serve --sandbox` (see README, "Testing your client against oncopath"):

1. reads the scenario catalogue (GET /sandbox?format=json) and picks a request fixture the
   sandbox pends (A4) now;
2. gets an access token (SMART Backend Services: a client assertion signed with the demo
   client's published ES384 key, POST /oauth/token);
3. serves a rest-hook endpoint on 127.0.0.1 (a free port) and creates a PAS Subscription for
   the fixture's submitting provider (POST /fhir/Subscription);
4. submits the fixture (POST /fhir/Claim/$submit; its Claim and Bundle identifiers made
   unique for this run): some item must be A4 (pended);
5. decides the case as the demo physician (POST /sandbox/cases/{orderId}/decide, approve);
6. waits for the notification at its endpoint: a history Bundle carrying the PAS response with
   the case's Order ID, each pended item now A1 (the others, e.g. an oral drug's NA, as they were);
7. asks `Claim/$inquire` with the same member, provider and payer: the same A1 answer.

Prints one line per step (or one JSON object with --json) and exits 0 only if every step
passed. Uses requests, PyJWT and cryptography (oncopath's own dependencies) and
scripts/client_assertion.py.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from client_assertion import assertion  # noqa: E402

FHIR_JSON = "application/fhir+json"
PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
PAS_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
NPI = "http://hl7.org/fhir/sid/us-npi"
X12_306 = "https://codesystem.x12.org/005010/306"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class FlowFailed(Exception):
    pass


# -- reading PAS answers ------------------------------------------------------------------------

def claim_response(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def item_actions(bundle: dict) -> dict[int, str]:
    out = {}
    for item in claim_response(bundle).get("item") or []:
        for adj in item.get("adjudication") or []:
            for ext in adj.get("extension") or []:
                if ext.get("url") == PAS_SD + "extension-reviewAction":
                    for sub in ext.get("extension") or []:
                        for c in (sub.get("valueCodeableConcept") or {}).get("coding") or []:
                            if c.get("system") == X12_306:
                                out[item["itemSequence"]] = c["code"]
    return out


def approved(before: dict[int, str], after: dict[int, str]) -> bool:
    """Every item that was pended (A4) is now certified (A1); the others kept their answer."""
    return set(after) == set(before) and all(after[seq] == ("A1" if code == "A4" else code)
                                             for seq, code in before.items())


def submitter_npi(bundle: dict) -> str:
    claim = claim_response(bundle)
    ref = (claim.get("provider") or {}).get("reference")
    for entry in bundle["entry"]:
        res = entry["resource"]
        if ref in (entry.get("fullUrl"), f"{res['resourceType']}/{res.get('id')}"):
            for ident in res.get("identifier") or []:
                if ident.get("system") == NPI:
                    return ident["value"]
    raise FlowFailed("the fixture's Claim.provider has no NPI")


def unique_request(bundle: dict, run: str) -> dict:
    """The fixture as a new request of this run: its own identifiers, sent now."""
    out = copy.deepcopy(bundle)
    out["identifier"] = {**out.get("identifier", {}), "value": f"{out.get('identifier', {}).get('value', 'flow')}-{run}"}
    out["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    claim = claim_response(out)
    claim["identifier"] = [{**i, "value": f"{i.get('value')}-{run}"} for i in claim.get("identifier") or []]
    return out


def inquiry_for(request: dict, run: str) -> dict:
    """A PAS inquiry about the request: the same member, provider and payer (and items)."""
    out = copy.deepcopy(request)
    out["identifier"] = {**out.get("identifier", {}), "value": f"inquiry-{run}"}
    out["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out.setdefault("meta", {})["profile"] = [PAS_SD + "profile-pas-inquiry-request-bundle"]
    claim_response(out).setdefault("meta", {})["profile"] = [PAS_SD + "profile-claim-inquiry"]
    return out


# -- the local notification endpoint -------------------------------------------------------------

class Endpoint:
    """A rest-hook endpoint on 127.0.0.1: keeps every POSTed body."""

    def __init__(self):
        received = self.received = []
        arrived = self.arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    received.append(json.loads(body))
                except ValueError:
                    received.append({"unparsable": body[:200].decode("utf-8", "replace")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                arrived.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notifications"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in list(self.received):
                if predicate(body):
                    return body
            self.arrived.wait(0.2)
            self.arrived.clear()
        return None


# -- the flow -----------------------------------------------------------------------------------

def run(base: str, *, timeout: float = 30.0, fixture: str | None = None, log=print,
        steps: list[dict] | None = None) -> list[dict]:
    """The flow; each step is appended to `steps` (also when a later one fails)."""
    host = urlsplit(base).hostname or ""
    if host not in LOOPBACK:
        raise FlowFailed(f"{base} is not a loopback address: this script only talks to a local sandbox")
    base = base.rstrip("/")
    http = requests.Session()
    steps = [] if steps is None else steps
    run_id = uuid.uuid4().hex[:8]

    def step(name: str, ok: bool, **detail):
        steps.append({"step": name, "ok": ok, **detail})
        log(f"{'ok  ' if ok else 'FAIL'} {name}: " + ", ".join(f"{k}={v}" for k, v in detail.items()))
        if not ok:
            raise FlowFailed(name)

    resp = http.get(f"{base}/sandbox", params={"format": "json"}, timeout=120)
    step("catalogue", resp.status_code == 200, status=resp.status_code)
    catalogue = resp.json()
    firsts = {e["fixture"]: e for e in catalogue["pas"] if not e.get("submitFirst")}
    pended = sorted((f for f in catalogue["scenarios"]["A4"]["fixtures"] if f in firsts),
                    key=lambda f: set(firsts[f]["actions"].values()) != {"A4"})   # all items pended first
    chosen = fixture or (pended[0] if pended else None)
    step("pick an A4 fixture", chosen is not None, fixture=chosen)

    client = catalogue["demo"]["client"]
    key = http.get(client["privateKey"], timeout=10)
    signed = assertion(key.content, client_id=client["client_id"], token_url=client["tokenUrl"])
    resp = http.post(client["tokenUrl"], data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed}, timeout=10)
    token = resp.json().get("access_token") if resp.status_code == 200 else None
    step("token", token is not None, status=resp.status_code, scope=(resp.json() or {}).get("scope"))
    auth = {"Authorization": f"Bearer {token}"}

    request_bundle = unique_request(http.get(f"{base}/sandbox/fixtures/{chosen}", timeout=10).json(), run_id)
    npi = submitter_npi(request_bundle)
    with Endpoint() as endpoint:
        subscription = {
            "resourceType": "Subscription", "status": "requested",
            "reason": "sandbox gateway flow: pended results",
            "criteria": PAS_TOPIC,
            "_criteria": {"extension": [{"url": BACKPORT + "backport-filter-criteria",
                                         "valueString": f"orgIdentifier={npi}"}]},
            "channel": {"type": "rest-hook", "endpoint": endpoint.url, "payload": FHIR_JSON,
                        "_payload": {"extension": [{"url": BACKPORT + "backport-payload-content",
                                                    "valueCode": "full-resource"}]}}}
        resp = http.post(f"{base}/fhir/Subscription", data=json.dumps(subscription),
                         headers={**auth, "Content-Type": FHIR_JSON}, timeout=10)
        step("subscribe", resp.status_code == 201, status=resp.status_code, orgIdentifier=npi,
             endpoint=endpoint.url, id=(resp.json() or {}).get("id"))

        resp = http.post(f"{base}/fhir/Claim/$submit", data=json.dumps(request_bundle),
                         headers={**auth, "Content-Type": FHIR_JSON}, timeout=60)
        submitted = resp.json()
        actions = item_actions(submitted) if resp.status_code == 200 else {}
        order_id = claim_response(submitted).get("id") if resp.status_code == 200 else None
        step("submit", resp.status_code == 200 and "A4" in actions.values(), status=resp.status_code,
             orderId=order_id, actions=actions)

        resp = http.post(f"{base}/sandbox/cases/{order_id}/decide", json={"action": "approve"}, headers=auth,
                         timeout=60)
        decided = resp.json()
        step("decide as the demo reviewer", resp.status_code == 200 and decided.get("status") == "Authorized",
             status=resp.status_code, caseStatus=decided.get("status"), actedAs=decided.get("actedAs"))

        def about_this_case(body: dict) -> bool:
            return any(e.get("resource", {}).get("resourceType") == "Bundle"
                       and claim_response(e["resource"]).get("id") == order_id for e in body.get("entry") or [])

        note = endpoint.wait_for(about_this_case, timeout)
        notified = next((e["resource"] for e in (note or {}).get("entry") or []
                         if e.get("resource", {}).get("resourceType") == "Bundle"), None)
        notified_actions = item_actions(notified) if notified else {}
        step("notification received", note is not None and note.get("type") == "history"
             and approved(actions, notified_actions), received=len(endpoint.received), actions=notified_actions)

    resp = http.post(f"{base}/fhir/Claim/$inquire", data=json.dumps(inquiry_for(request_bundle, run_id)),
                     headers={**auth, "Content-Type": FHIR_JSON}, timeout=60)
    answers = [p["resource"] for p in (resp.json() or {}).get("parameter") or []] if resp.status_code == 200 else []
    mine = next((b for b in answers if claim_response(b).get("id") == order_id), None)
    inquired = item_actions(mine) if mine else {}
    step("inquire", mine is not None and approved(actions, inquired), status=resp.status_code,
         found=len(answers), actions=inquired)
    return steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:8080", help="the sandbox's base URL (loopback)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the notification")
    parser.add_argument("--fixture", default=None, help="a catalogue fixture to submit (default: one that pends)")
    parser.add_argument("--json", action="store_true", help="print the steps as one JSON object")
    args = parser.parse_args(argv)
    steps: list[dict] = []
    failed = None
    try:
        run(args.base, timeout=args.timeout, fixture=args.fixture,
            log=(lambda *_: None) if args.json else print, steps=steps)
    except FlowFailed as err:
        failed = str(err)
    except requests.RequestException as err:
        failed = f"HTTP: {err}"
    if args.json:
        print(json.dumps({"ok": failed is None, "failed": failed, "steps": steps}, indent=2))
    elif failed:
        print(f"flow failed at: {failed}", file=sys.stderr)
    return 0 if failed is None else 1


if __name__ == "__main__":
    sys.exit(main())
