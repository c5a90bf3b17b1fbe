"""Access control across the surfaces, and an audit row for every refusal.

A provider (known by the NPI of the Claim's provider) never sees another provider's case — not
by inquiry, not by the order summary, not by reading the ClaimResponse — and is answered exactly
as for an unknown Order ID. A nurse reviewer cannot deny. Reviewer routes need a token. A
tampered or replayed CDS Hooks JWT is a 401. Each refusal writes an audit row (entity `access`)
naming the route and the reason, and no PHI."""
from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from reliability.harness import CLOCK, load_fixture, make_app, reviewer_token
from server.review.accounts import hash_password
from server.store.models import AuditRow

RIVERSIDE_NPI = "1234567893"     # Claim.provider of fixtures/pas/thp-her2-positive.json
OTHER_NPI = "1679576722"         # Claim.provider of fixtures/pas/inquiry-other-clinic.json
PHI = ("Rivera", "Ana", "1957-03-14", "MA-100200300")


@pytest.fixture
def app(tmp_path):
    return make_app(f"sqlite:///{tmp_path / 'access.db'}")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def case_id(client) -> str:
    resp = client.post("/fhir/Claim/$submit", json=load_fixture("pas/thp-her2-positive.json"))
    assert resp.status_code == 200
    return resp.get_json()["entry"][0]["resource"]["preAuthRef"]


@dataclass(frozen=True)
class Refusal:
    actor: str
    action: str
    entity_id: str
    before: object
    after: dict


def refusals(app) -> list[Refusal]:
    with app.extensions["oncopath.store"].uow() as uow:
        rows = uow.session.scalars(select(AuditRow).where(AuditRow.entity == "access").order_by(AuditRow.id))
        return [Refusal(r.actor, r.action, r.entity_id, r.before, r.after) for r in rows]


def assert_no_phi(rows: list[Refusal]) -> None:
    text = json.dumps([[r.actor, r.action, r.entity_id, r.before, r.after] for r in rows])
    for value in PHI:
        assert value not in text


def outcome(resp, status: int) -> dict:
    assert resp.status_code == status, resp.data[:300]
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


# -- a provider and another provider's case ----------------------------------------------------

def test_another_providers_inquiry_finds_nothing_even_naming_the_order_id_and_is_audited(client, app, case_id):
    inquiry = load_fixture("pas/inquiry-other-clinic.json")
    item = copy.deepcopy(load_fixture("pas/thp-her2-positive.json")["entry"][0]["resource"]["item"][0])
    item["extension"] = [e for e in item["extension"] if "valueReference" not in e]   # not in this Bundle
    item["extension"].append({"url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
                                     "extension-authorizationNumber", "valueString": case_id})
    item.pop("diagnosisSequence", None)
    item.pop("careTeamSequence", None)
    inquiry["entry"][0]["resource"]["item"] = [item]
    resp = client.post("/fhir/Claim/$inquire", json=inquiry)
    assert resp.status_code == 200
    assert resp.get_json() == {"resourceType": "Parameters", "parameter": []}
    own = client.post("/fhir/Claim/$inquire", json=load_fixture("pas/inquiry-riverside.json")).get_json()
    assert len(own["parameter"]) == 1   # the submitting provider does see it
    rows = refusals(app)
    assert [r.action for r in rows] == ["access.refused.404"]
    assert rows[0].entity_id == "POST /fhir/Claim/$inquire"
    assert "another provider" in rows[0].after["reason"]
    assert_no_phi(rows)


@pytest.mark.parametrize("path", ["/orders/{id}/summary?format=json&npi={npi}", "/fhir/ClaimResponse/{id}?npi={npi}"])
def test_another_providers_npi_reads_a_case_exactly_like_an_unknown_order_id_and_is_audited(client, app, case_id, path):
    other = client.get(path.format(id=case_id, npi=OTHER_NPI))
    unknown = client.get(path.format(id="ONC-ZZZZZZZZZZ", npi=OTHER_NPI))
    assert other.status_code == unknown.status_code == 404
    assert other.get_json() == unknown.get_json()
    assert other.get_json()["resourceType"] == "OperationOutcome"
    own = client.get(path.format(id=case_id, npi=RIVERSIDE_NPI))
    assert own.status_code == 200
    rows = refusals(app)
    assert len(rows) == 1 and rows[0].action == "access.refused.404"   # the unknown ID is no refusal
    assert rows[0].entity_id.startswith("GET /") and case_id in rows[0].entity_id
    assert OTHER_NPI not in json.dumps(rows[0].after)   # no query string kept
    assert_no_phi(rows)


def test_a_case_read_without_any_npi_is_refused(client, app, case_id):
    outcome(client.get(f"/fhir/ClaimResponse/{case_id}"), 404)
    assert len(refusals(app)) == 1


def test_the_portal_status_page_refuses_another_providers_npi_and_audits_it(client, app, case_id):
    resp = client.get(f"/portal/status?order_id={case_id}&npi={OTHER_NPI}")
    assert resp.status_code == 404 and b"No order was found" in resp.data
    assert [r.action for r in refusals(app)] == ["access.refused.404"]


def test_a_claim_identifier_of_another_submitter_gets_a_case_of_its_own_and_reveals_nothing(client, app, case_id):
    bundle = load_fixture("pas/thp-her2-positive.json")
    clinic = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == "onc-clinic")
    clinic["identifier"][0]["value"] = OTHER_NPI
    resp = client.post("/fhir/Claim/$submit", json=bundle)
    assert resp.status_code == 200
    assert case_id not in resp.get_data(as_text=True)
    store = app.extensions["oncopath.store"]
    own = resp.get_json()["entry"][0]["resource"]["id"]
    assert own != case_id and store.get_case(own).provider_npi == OTHER_NPI
    assert store.get_case(case_id).provider_npi != OTHER_NPI


# -- reviewers ---------------------------------------------------------------------------------

def _token(app, username: str, role: str) -> str:
    app.extensions["oncopath.review"].reviews.add_reviewer(username, role, hash_password("pw-" + username * 2),
                                                         now=CLOCK)
    resp = app.test_client().post("/review/api/token", json={"username": username, "password": "pw-" + username * 2})
    return resp.get_json()["access_token"]


def test_a_nurse_reviewer_cannot_deny_and_the_refusal_is_audited_with_the_nurse_as_actor(client, app):
    bundle = load_fixture("pas/trastuzumab-her2-negative.json")
    order_id = client.post("/fhir/Claim/$submit", json=bundle).get_json()["entry"][0]["resource"]["identifier"][0]["value"]
    token = _token(app, "nurse-nina", "nurse")
    issue = outcome(client.post(f"/review/api/cases/{order_id}/actions/deny", json={"reason": "not indicated"},
                                headers={"Authorization": f"Bearer {token}"}), 403)
    assert "only a physician reviewer can deny" in issue["diagnostics"]
    case = client.get(f"/review/api/cases/{order_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert "deny" not in json.dumps(case.get("allowed_actions", []))
    rows = refusals(app)
    assert [(r.action, r.actor) for r in rows] == [("access.refused.403", "reviewer:nurse-nina")]
    assert rows[0].entity_id == f"POST /review/api/cases/{order_id}/actions/deny"
    assert_no_phi(rows)


@pytest.mark.parametrize("method, path", [
    ("get", "/review/api/queue"), ("get", "/review/api/cases/ONC-AAAAAAAAAA"),
    ("post", "/review/api/cases/ONC-AAAAAAAAAA/actions/approve"), ("get", "/review/api/metrics"),
])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwdw=="])
def test_reviewer_routes_without_a_valid_token_are_a_401_and_audited(client, app, method, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    issue = outcome(getattr(client, method)(path, headers=headers), 401)
    assert issue["code"] == "login"
    rows = refusals(app)
    assert [r.action for r in rows] == ["access.refused.401"]
    assert rows[0].entity_id == f"{method.upper()} {path}" and rows[0].actor.startswith("client:")


def test_a_wrong_reviewer_password_is_audited_on_the_api_and_in_the_portal(client, app):
    reviewer_token(app)
    outcome(client.post("/review/api/token", json={"username": "fuzz-physician", "password": "wrong"}), 401)
    client.get("/portal/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    resp = client.post("/portal/login", data={"username": "fuzz-physician", "password": "wrong", "csrf_token": csrf})
    assert resp.status_code == 401
    rows = refusals(app)
    assert [r.action for r in rows] == ["access.refused.401", "access.refused.401"]
    assert "wrong" not in json.dumps([r.after for r in rows]).replace("wrong password", "")


# -- CDS Hooks JWTs -----------------------------------------------------------------------------

BASE = "https://oncopath.example.org"
SIGN = "/cds-services/oncopath-order-sign"
ISS = "https://sandbox.cds-hooks.org"
KID = "access-test-key"


@pytest.fixture
def jwt_app(tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": KID, "alg": "ES384", "use": "sig"}]}))
    app = make_app(f"sqlite:///{tmp_path / 'jwt.db'}", CDS_JWT_REQUIRED=True, PUBLIC_BASE_URL=BASE,
                   CDS_TRUSTED_ISSUERS={ISS: str(jwks)})
    app.config["TEST_KEY"] = key
    return app


def _jwt(key, **over) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "aud": BASE + SIGN, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4()), **over}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["iss"] = ISS
    claims["sub"] = "someone-else"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


def test_a_tampered_or_replayed_cds_hooks_jwt_is_a_401_and_each_refusal_is_audited(jwt_app):
    client = jwt_app.test_client()
    body = load_fixture("hooks/order-sign-thp-her2-positive.json")
    key = jwt_app.config["TEST_KEY"]
    good = _jwt(key)
    first = client.post(SIGN, json=body, headers={"Authorization": f"Bearer {good}"})
    assert first.status_code == 200 and first.get_json()["cards"]

    replay = outcome(client.post(SIGN, json=copy.deepcopy(body), headers={"Authorization": f"Bearer {good}"}), 401)
    assert "already used" in replay["diagnostics"]
    tampered = outcome(client.post(SIGN, json=body, headers={"Authorization": f"Bearer {_tamper(_jwt(key))}"}), 401)
    assert tampered["code"] == "login"
    other_key = ec.generate_private_key(ec.SECP384R1())
    outcome(client.post(SIGN, json=body, headers={"Authorization": f"Bearer {_jwt(other_key)}"}), 401)
    outcome(client.post(SIGN, json=body), 401)

    # Refusals are sampled: one row per minute for the same actor and route, and the next row
    # counts the ones not written (an attack costs no database write per request).
    rows = refusals(jwt_app)
    assert [r.action for r in rows] == ["access.refused.401"]
    assert rows[0].entity_id == f"POST {SIGN}" and "already used" in rows[0].after["reason"]
    jwt_app.extensions["oncopath.refusals"].window = 0.0      # the minute has passed
    outcome(client.post(SIGN, json=body), 401)
    rows = refusals(jwt_app)
    assert len(rows) == 2 and rows[1].after["refusedSinceLastRow"] == 3
    assert_no_phi(rows)

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
