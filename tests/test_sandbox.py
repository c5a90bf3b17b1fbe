"""Sandbox mode (server/sandbox, server/http/sandbox.py): never on by default, refused over other
data, the demo client and reviewer, a catalogue whose every claim the sandbox itself keeps, the
tester endpoint acting through the reviewers' service, and the demo patients' FHIR surface."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import responses
from flask.testing import FlaskClient

from conformance.rules import cds_response_problems, pas_response_problems
from server.app import create_app
from server.sandbox import SandboxRefused, demo

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def sandbox_app(path: Path, **extra):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SANDBOX": True,
                       "CDS_JWT_REQUIRED": False, "PUBLIC_BASE_URL": "http://localhost",
                       "OUTBOUND_ALLOWED_NETWORKS": ["127.0.0.0/8", "::1/128"], **extra})


def demo_token(app) -> str:
    from client_assertion import assertion

    signed = assertion(demo.private_key_pem(), client_id=demo.CLIENT_ID, token_url="http://localhost/oauth/token")
    resp = FlaskClient(app).post("/oauth/token", data={"grant_type": "client_credentials",
                                                        "client_assertion_type": ASSERTION_TYPE,
                                                        "client_assertion": signed})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]


class Gateway:
    """A tester's HTTP client: the demo client's token on every call."""

    def __init__(self, app):
        self.app = app
        self.http = FlaskClient(app)
        self.headers = {"Authorization": f"Bearer {demo_token(app)}"}

    def post(self, path, body, **kw):
        return self.http.post(path, json=body, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def get(self, path, **kw):
        return self.http.get(path, headers=self.headers, **kw)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def item_actions(bundle: dict) -> dict[str, str]:
    from mappings.sandbox import item_actions as read
    return read(bundle)


@pytest.fixture
def app(tmp_path):
    return sandbox_app(tmp_path / "sandbox.db")


@pytest.fixture
def tester(app):
    return Gateway(app)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    app = sandbox_app(tmp_path_factory.mktemp("catalogue") / "catalogue.db")
    resp = FlaskClient(app).get("/sandbox", headers={"Accept": "application/json"})
    assert resp.status_code == 200
    return resp.get_json()


# ------------------------------------------------------------------- never on by default, refused

def test_no_sandbox_route_exists_outside_sandbox_mode(tmp_path):
    plain = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'plain.db'}"})
    client = FlaskClient(plain)
    assert plain.config["SANDBOX"] is False
    for path in ("/sandbox", "/sandbox/fhir/Patient/thp-her2-positive", "/sandbox/demo-client-key.pem"):
        assert client.get(path).status_code == 404
    assert client.post("/sandbox/cases/ONC-X/decide", json={"action": "approve"}).status_code == 404
    assert plain.extensions["oncopath.clients"].get(demo.CLIENT_ID) is None


def test_an_empty_database_is_marked_as_a_sandbox_with_the_demo_client_and_reviewer_once(tmp_path):
    app = sandbox_app(tmp_path / "s.db")
    again = sandbox_app(tmp_path / "s.db")            # a restart, or a second worker
    client = again.extensions["oncopath.clients"].get(demo.CLIENT_ID)
    assert client is not None and client.active and "1234567893" in client.organizations
    assert client.jwks == demo.public_jwks()
    reviewer = again.extensions["oncopath.review"].reviews.reviewer_by_username(demo.REVIEWER["username"])
    assert reviewer.role == "physician"
    assert again.extensions["oncopath.review"].authenticate(demo.REVIEWER["username"], demo.REVIEWER["password"])
    marks = [a for a in app.extensions["oncopath.store"].audit_trail("sandbox") if a.action == demo.MARK_ACTION]
    assert len(marks) == 1


def test_a_database_holding_other_data_is_refused_by_the_app(tmp_path):
    db = tmp_path / "real.db"
    real = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}"})
    assert real.test_client().post("/fhir/Claim/$submit", json=fixture("pas/thp-her2-positive.json")).status_code == 200
    with pytest.raises(SandboxRefused, match=r"1 cases"):
        sandbox_app(db)
    assert real.extensions["oncopath.clients"].get(demo.CLIENT_ID) is None


def test_oncopath_serve_sandbox_on_a_database_with_other_data_exits_2_saying_why(tmp_path):
    db = tmp_path / "real.db"
    real = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}"})
    real.extensions["oncopath.review"].reviews.add_reviewer("dr-lee", "nurse", "x", now=datetime.now(timezone.utc))
    out = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--sandbox", "--port", "1",
                          "--database-url", f"sqlite:///{db}"], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert out.returncode == 2, out.stderr
    assert "sandbox mode refused" in out.stderr and "1 reviewers" in out.stderr and "Listening" not in out.stderr


def test_a_sandbox_database_is_refused_outside_sandbox_mode_its_demo_key_being_public(tmp_path):
    db = tmp_path / "sandbox.db"
    sandbox_app(db)
    with pytest.raises(SandboxRefused, match="published"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}"})
    out = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", "1", "--database-url", f"sqlite:///{db}"],
                         cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "ONCOPATH_PUBLIC_BASE_URL": "http://x"})
    assert out.returncode == 2 and "only with --sandbox" in out.stderr, out.stderr


def test_trusting_the_public_cds_hooks_sandbox_issuer_is_refused_outside_loopback_sandbox_mode():
    from server.sandbox.cli import refuse_public_sandbox_issuer

    trusted = {"CDS_TRUSTED_ISSUERS": {"https://sandbox.cds-hooks.org": {"jwks": "x"}}}
    assert "private signing key is public" in refuse_public_sandbox_issuer(trusted, "0.0.0.0")
    assert refuse_public_sandbox_issuer({**trusted, "SANDBOX": True}, "0.0.0.0")
    assert refuse_public_sandbox_issuer(trusted, "127.0.0.1")
    assert refuse_public_sandbox_issuer({**trusted, "SANDBOX": True}, "127.0.0.1") is None
    assert refuse_public_sandbox_issuer({"CDS_TRUSTED_ISSUERS": {"https://ehr.example.org": "x"}}, "0.0.0.0") is None


# -------------------------------------------------------------------------------- the catalogue

def test_the_catalogue_names_a_fixture_or_a_way_for_every_answer_a_tester_asks_for(catalogue, tmp_path):
    scenarios = catalogue["scenarios"]
    assert set(scenarios) >= {"A1", "A4", "NA", "A3", "CT", "C", "cancel", "update"}
    for code in ("A1", "A4", "NA", "A3", "CT"):
        assert scenarios[code]["fixtures"] or scenarios[code]["how"]
    assert "never denies" in scenarios["A3"]["how"] and not scenarios["A3"]["fixtures"]
    assert scenarios["A4"]["fixtures"], "the reviewer flow needs a fixture that pends"
    assert scenarios["cancel"]["fixtures"] and scenarios["update"]["fixtures"]
    names = {p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "pas").glob("*.json")}
    assert {e["fixture"] for e in catalogue["pas"] + catalogue["inquiries"]} == names
    hooks = {p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "hooks").glob("*.json")}
    assert {e["fixture"] for e in catalogue["cdsHooks"]} == hooks
    assert catalogue["cardTypes"] and all(catalogue["cardTypes"].values())
    assert any(k.startswith("duplicate-therapy") for k in catalogue["cardTypes"])
    from server.hooks.registry import CARD_TYPES
    given = {k.split(" ")[0] for k in catalogue["cardTypes"]}
    assert given | set(catalogue["cardTypesNoFixtureGives"]) == set(CARD_TYPES) | given
    page = FlaskClient(sandbox_app(tmp_path / "page.db")).get("/sandbox")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert demo.CLIENT_ID in page.get_data(as_text=True) and "deny-after-peer-to-peer" in page.get_data(as_text=True)


@pytest.mark.parametrize("name", [f"pas/{p.name}" for p in sorted((FIXTURES / "pas").glob("*.json"))])
def test_each_pas_entry_of_the_catalogue_is_what_the_sandbox_answers(catalogue, tmp_path, name):
    entry = next((e for e in catalogue["pas"] + catalogue["inquiries"] if e["fixture"] == name))
    tester = Gateway(sandbox_app(tmp_path / "check.db"))
    assert tester.get(f"/sandbox/fixtures/{name}").get_json() == fixture(name)
    if entry["door"] == "Claim/$inquire":
        ids = {}
        for e in catalogue["pas"]:
            if not e["submitFirst"]:
                ids[tester.post("/fhir/Claim/$submit", fixture(e["fixture"])).get_json()["entry"][0]["resource"]["id"]] = e["fixture"]
        body = tester.post("/fhir/Claim/$inquire", fixture(name)).get_json()
        assert sorted(ids[p["resource"]["entry"][0]["resource"]["id"]] for p in body["parameter"]) == sorted(entry["findsCasesOf"])
        return
    for earlier in entry["submitFirst"]:
        assert tester.post("/fhir/Claim/$submit", fixture(earlier)).status_code == 200
    resp = tester.post("/fhir/Claim/$submit", fixture(name))
    assert resp.status_code == entry["httpStatus"] == 200
    body = resp.get_json()
    assert pas_response_problems(body, fixture(name)) == []
    assert item_actions(body) == entry["actions"]
    assert tester.app.extensions["oncopath.store"].get_case(body["entry"][0]["resource"]["id"]).status == entry["caseStatus"]


@pytest.mark.parametrize("name", [f"hooks/{p.name}" for p in sorted((FIXTURES / "hooks").glob("*.json"))])
def test_each_cds_entry_of_the_catalogue_gives_the_cards_it_names(catalogue, tmp_path, name):
    from mappings.sandbox import card_summary, coverage_codes

    from mappings.sandbox import as_new_orders

    entries = [e for e in catalogue["cdsHooks"] if e["fixture"] == name]
    tester = Gateway(sandbox_app(tmp_path / "cds.db"))
    request = fixture(name)
    assert [e["sent"] for e in entries] == ["as it is"] + (["ordered again as new orders after the first call"]
                                                           if request["hook"] == "order-sign" else [])
    for entry, sent in zip(entries, (request, as_new_orders(request))):
        resp = tester.post(entry["service"], sent)
        assert resp.status_code == 200
        body = resp.get_json()
        assert cds_response_problems(body, sent) == []
        assert [(c["indicator"], c["topic"]) for c in card_summary(body)] == \
            [(c["indicator"], c["topic"]) for c in entry["cards"]]
        assert coverage_codes(body) == entry["paNeeded"]


# ------------------------------------------------------------------------------ tester endpoint

def pended_case(tester, catalogue) -> tuple[str, dict]:
    name = next(f for f in catalogue["scenarios"]["A4"]["fixtures"]
                if not next(e for e in catalogue["pas"] if e["fixture"] == f)["submitFirst"])
    body = tester.post("/fhir/Claim/$submit", fixture(name)).get_json()
    return body["entry"][0]["resource"]["id"], item_actions(body)


def subscribe(tester, npi="1234567893") -> None:
    sub = json.loads((REPO.parent / "shared" / "examples" / "pas-2.2.1" / "Subscription-PASSubscriptionExample.json").read_text())
    sub["_criteria"]["extension"][0]["valueString"] = f"orgIdentifier={npi}"
    assert tester.post("/fhir/Subscription", sub).status_code == 201


def notifications(app) -> list[dict]:
    from sqlalchemy import select

    from server.store.review_models import NotificationRow

    store = app.extensions["oncopath.store"]
    with store.uow(read_only=True) as uow:
        return [r.payload for r in uow.session.scalars(select(NotificationRow))]


def test_approve_as_the_demo_reviewer_certifies_the_pended_items_and_queues_the_notification(tester, catalogue):
    subscribe(tester)
    order_id, before = pended_case(tester, catalogue)
    resp = tester.post(f"/sandbox/cases/{order_id}/decide", {"action": "approve"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "Authorized" and body["actedAs"] == demo.REVIEWER["username"]
    assert body["actions"] == ["approve"]
    after = item_actions(body["response"])
    assert after == {k: ("A1" if v == "A4" else v) for k, v in before.items()}
    assert body["response"]["entry"][0]["resource"]["preAuthRef"] == order_id
    assert len(notifications(tester.app)) == 1
    view = tester.app.extensions["oncopath.review"].case_view(order_id, datetime.now(timezone.utc))
    assert view["actions"][0]["actor"] == demo.REVIEWER["username"]
    # the same as a reviewer: a decided case takes no second decision
    assert tester.post(f"/sandbox/cases/{order_id}/decide", {"action": "approve"}).status_code == 409


def test_deny_after_peer_to_peer_offers_it_first_and_answers_a3(tester, catalogue):
    subscribe(tester)
    order_id, before = pended_case(tester, catalogue)
    body = tester.post(f"/sandbox/cases/{order_id}/decide", {"action": "deny-after-peer-to-peer"}).get_json()
    assert body["actions"] == ["peer-to-peer-offered", "deny"]
    assert body["status"] == "Non-Authorized"
    assert {k: v for k, v in item_actions(body["response"]).items() if before[k] == "A4"} == \
        {k: "A3" for k, v in before.items() if v == "A4"}
    assert len(notifications(tester.app)) == 1


def test_request_information_keeps_the_case_in_review_and_notifies_nobody(tester, catalogue):
    subscribe(tester)
    order_id, _ = pended_case(tester, catalogue)
    body = tester.post(f"/sandbox/cases/{order_id}/decide", {"action": "request-information"}).get_json()
    assert body["status"] == "In Progress" and body["actions"] == ["request-information"]
    assert notifications(tester.app) == []


def test_the_tester_endpoint_needs_a_token_and_sees_only_the_clients_organisations(app, tester, catalogue):
    order_id, _ = pended_case(tester, catalogue)
    assert FlaskClient(app).post(f"/sandbox/cases/{order_id}/decide", json={"action": "approve"}).status_code == 401
    from conftest import CLIENT_KEY, client_token, register_client

    other = client_token(app, CLIENT_KEY[0], register_client(app, CLIENT_KEY[1], organizations=["1999999984"]))
    resp = FlaskClient(app).post(f"/sandbox/cases/{order_id}/decide", json={"action": "approve"},
                                 headers={"Authorization": f"Bearer {other}"})
    assert resp.status_code == 404
    assert tester.post(f"/sandbox/cases/{order_id}/decide", {"action": "escalate"}).status_code == 400
    assert tester.post("/sandbox/cases/ONC-NOSUCHCASE/decide", {"action": "approve"}).status_code == 404


# --------------------------------------------------------------------------- the FHIR surface

def test_each_hook_fixtures_patient_can_be_read_and_searched_in_the_sandbox(tester):
    patient = tester.get("/sandbox/fhir/Patient/thp-her2-negative")
    assert patient.status_code == 200 and patient.mimetype == "application/fhir+json"
    assert patient.get_json()["id"] == "thp-her2-negative"
    obs = tester.get("/sandbox/fhir/Observation?patient=thp-her2-negative").get_json()
    assert obs["type"] == "searchset" and obs["total"] == len(obs["entry"]) > 0
    assert all(e["resource"]["subject"]["reference"] == "Patient/thp-her2-negative" for e in obs["entry"])
    positive = tester.get("/sandbox/fhir/Observation?patient=Patient/thp-her2-positive").get_json()
    assert {e["resource"]["id"] for e in positive["entry"]}.isdisjoint({e["resource"]["id"] for e in obs["entry"]})
    cov = tester.get("/sandbox/fhir/Coverage?patient=thp-her2-negative&status=active").get_json()
    assert len(cov["entry"]) == 1
    assert tester.get("/sandbox/fhir/Patient/patient-1").status_code == 404
    assert tester.get("/sandbox/fhir/Observation").status_code == 400
    assert tester.get("/sandbox/fhir/Claim?patient=x").status_code == 404


def test_the_sandbox_answers_every_search_the_order_sign_prefetch_asks_for(tester):
    """A client of the sandbox that fetches instead of prefetching asks the templates of discovery,
    treatment history included: each is a searchset (possibly empty), never a 404."""
    from server.hooks.registry import PREFETCH
    for key, template in PREFETCH.items():
        if "?" not in template:
            continue
        path = template.replace("{{context.patientId}}", "thp-her2-negative")
        resp = tester.get(f"/sandbox/fhir/{path}")
        assert resp.status_code == 200, (key, path, resp.get_json())
        assert resp.get_json()["type"] == "searchset"


def test_a_cds_call_without_prefetch_reads_the_demo_patient_from_the_sandbox_and_gets_the_same_cards(app, tester):
    from mappings.sandbox import card_summary, sandbox_variant

    request = fixture("hooks/order-sign-thp-her2-negative.json")
    with_prefetch = tester.post("/cds-services/oncopath-order-sign", request).get_json()
    fetched = []

    def forward(req):
        fetched.append(req.url)
        path = req.url.split("http://localhost", 1)[1]
        resp = FlaskClient(app).get(path)
        return resp.status_code, {"Content-Type": "application/fhir+json"}, resp.get_data()

    variant = sandbox_variant(request, "thp-her2-negative", "http://localhost/sandbox/fhir")
    variant["hookInstance"] = "sandbox-variant-1"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as ehr:
        ehr.add_callback(responses.GET, re.compile(r"http://localhost/sandbox/fhir/.*"), callback=forward)
        without = tester.post("/cds-services/oncopath-order-sign", variant).get_json()
    assert any("/sandbox/fhir/Patient/thp-her2-negative" in u for u in fetched)
    assert any("/sandbox/fhir/Observation?patient=thp-her2-negative" in u for u in fetched)
    assert cds_response_problems(without, variant) == []
    topics = [(c["indicator"], c["topic"]) for c in card_summary(with_prefetch) if c["topic"] != "duplicate-therapy"]
    assert [(c["indicator"], c["topic"]) for c in card_summary(without) if c["topic"] != "duplicate-therapy"] == topics


# Test tier (unit | integration | e2e: see tests/conftest.py).
pytestmark = pytest.mark.e2e
