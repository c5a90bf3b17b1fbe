"""Shared pieces of the attack suite: apps with the FHIR door closed (the production default),
registered B2B clients and their tokens, plain (token-less) test clients, and small local HTTP
servers that record what reached them (for the SSRF attacks; loopback only)."""
from __future__ import annotations

import copy
import http.server
import json
import threading
import time

import pytest
from flask.testing import FlaskClient

from conftest import CLIENT_KEY, client_token, register_client
from reliability.harness import CLOCK, load_fixture

VICTIM_NPI = "1234567893"      # Claim.provider of fixtures/pas/thp-her2-positive.json
ATTACKER_NPI = "1679576722"    # an NPI the attacking client is registered for
PHI = ("Rivera", "1957-03-14", "MA-100200300")
SUBMIT, INQUIRE = "/fhir/Claim/$submit", "/fhir/Claim/$inquire"


def make_closed_app(tmp_path, **config):
    from server.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'sec.db'}",
                      "CDS_JWT_REQUIRED": False, **config})
    app.extensions["oncopath.clock"] = lambda: CLOCK
    return app


@pytest.fixture
def app(tmp_path):
    return make_closed_app(tmp_path)


@pytest.fixture
def anonymous(app):
    """A client that sends no Authorization header (not the suite's token-injecting one)."""
    return FlaskClient(app)


class Party:
    """A registered B2B client and its access token."""

    def __init__(self, app, organizations, scopes=None, name="gateway"):
        pem, jwk = CLIENT_KEY
        self.app = app
        self.client_id = register_client(app, jwk, organizations=organizations, scopes=scopes, name=name)
        self.token = client_token(app, pem, self.client_id)
        self.http = FlaskClient(app)

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path, body, **kw):
        return self.http.post(path, data=json.dumps(body), content_type="application/fhir+json",
                              headers=self.headers, **kw)

    def get(self, path, **kw):
        return self.http.get(path, headers=self.headers, **kw)

    def delete(self, path, **kw):
        return self.http.delete(path, headers=self.headers, **kw)


@pytest.fixture
def victim(app):
    return Party(app, [VICTIM_NPI], name="victim clinic gateway")


@pytest.fixture
def attacker(app):
    return Party(app, [ATTACKER_NPI], name="attacker gateway")


@pytest.fixture
def victim_case(victim) -> str:
    resp = victim.post(SUBMIT, load_fixture("pas/thp-her2-positive.json"))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["entry"][0]["resource"]["preAuthRef"]


def outcome(resp, status: int) -> dict:
    assert resp.status_code == status, resp.data[:400]
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def inquiry_for(npi: str) -> dict:
    """The Riverside inquiry fixture, naming `npi` as the provider (and its org)."""
    text = json.dumps(load_fixture("pas/inquiry-riverside.json"))
    return json.loads(text.replace(VICTIM_NPI, npi))


def submission_as(npi: str, identifier: str) -> dict:
    """The THP submission fixture as sent by another provider (`npi`) with a new Claim identifier."""
    bundle = json.loads(json.dumps(load_fixture("pas/thp-her2-positive.json")).replace(VICTIM_NPI, npi))
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = identifier
    return bundle


class Recorder:
    """A loopback HTTP server recording each request; `behaviour(handler)` answers it."""

    def __init__(self, behaviour=None):
        self.hits: list[dict] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorder.hits.append({"method": self.command, "path": self.path,
                                      "authorization": self.headers.get("Authorization"),
                                      "body": self.rfile.read(length) if length else b""})
                (behaviour or Recorder.patient)(self)

            do_GET = do_POST = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def patient(handler):
        body = json.dumps({"resourceType": "Patient", "id": "p"}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def recorder():
    made = []

    def make(behaviour=None) -> Recorder:
        r = Recorder(behaviour)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def redirect_to(target: str, status: int = 307, delay: float = 0.0):
    def behaviour(handler):
        time.sleep(delay)
        handler.send_response(status)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return behaviour


def slow_headers(handler):
    """Answers one header byte every 0.1 s, for ever (until the client goes)."""
    try:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        handler.wfile.flush()
        for _ in range(200):
            handler.wfile.write(b"X")
            handler.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass


def hook_without_patient(fhir_server: str, token: str = "ehr-access-token-123") -> dict:
    req = copy.deepcopy(load_fixture("hooks/order-sign-thp-her2-positive.json"))
    del req["prefetch"]["patient"]
    req["fhirServer"] = fhir_server
    req["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                "scope": "patient/Patient.read", "subject": "oncopath"}
    return req


def pas_subscription(org: str, endpoint: str = "https://gateway.example.org/notify") -> dict:
    """The official PAS Subscription example, filtering on `org`, notifying `endpoint`."""
    from conftest import EXAMPLES

    body = json.loads((EXAMPLES / "pas-2.2.1" / "Subscription-PASSubscriptionExample.json").read_text())
    body["_criteria"]["extension"][0]["valueString"] = f"orgIdentifier={org}"
    body["channel"]["endpoint"] = endpoint
    return body
