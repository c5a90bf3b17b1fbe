"""SSRF: what a CDS client names as fhirServer (or a subscriber as its endpoint) cannot make
oncopath call private addresses, follow redirects elsewhere, hold a worker, or leak the EHR's
access token."""
from __future__ import annotations

import json
import logging
import time

import pytest
import responses
from flask.testing import FlaskClient
from sqlalchemy import select

from server.hooks.fetcher import FhirFetcher
from server.security.outbound import OutboundPolicy
from server.store.models import CaseRow

from .conftest import hook_without_patient, make_closed_app, outcome, redirect_to, slow_headers

SIGN = "/cds-services/oncopath-order-sign"
LOCAL = OutboundPolicy(["127.0.0.0/8"])


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "localhost", "[::1]",
                                  "[::ffff:127.0.0.1]"])
def test_a_fhir_server_on_loopback_in_any_spelling_is_never_called(app, recorder, host):
    ehr = recorder()
    req = hook_without_patient(f"http://{host}:{ehr.port}/fhir")
    issue = outcome(FlaskClient(app).post(SIGN, json=req), 412)
    assert "not allowed" in issue["diagnostics"]
    assert ehr.hits == []


@pytest.mark.parametrize("url", ["http://10.1.2.3/fhir", "http://192.168.0.10/fhir", "http://169.254.169.254/fhir",
                                 "http://[fe80::1]/fhir", "http://0.0.0.0/fhir"])
def test_private_and_link_local_targets_are_refused_before_any_connection(url):
    assert FhirFetcher(url, "t", timeout=1).fetch("Patient/p").error.startswith("the target address is not allowed")


def test_closed_and_open_local_ports_answer_alike(app, recorder):
    ehr = recorder()
    answers = {outcome(FlaskClient(app).post(SIGN, json=hook_without_patient(f"http://127.0.0.1:{port}/fhir")),
                       412)["diagnostics"] for port in (ehr.port, 9)}
    assert len(answers) == 1 and ehr.hits == []


def test_a_redirect_to_another_origin_is_not_followed_and_the_token_stays_home(recorder):
    elsewhere = recorder()
    ehr = recorder(redirect_to(f"{elsewhere.url}/fhir/Patient/p"))
    result = FhirFetcher(f"{ehr.url}/fhir", "ehr-secret", timeout=2, policy=LOCAL).fetch("Patient/p")
    assert result.error == "redirect to another origin refused"
    assert ehr.hits[0]["authorization"] == "Bearer ehr-secret"
    assert elsewhere.hits == []


def test_a_same_origin_redirect_is_followed_within_the_limit(recorder):
    ehr = recorder()
    hops = {"n": 0}

    def behaviour(handler):
        if handler.path.endswith("/moved"):
            from .conftest import Recorder
            return Recorder.patient(handler)
        hops["n"] += 1
        return redirect_to("/fhir/Patient/moved")(handler)
    ehr = recorder(behaviour)
    result = FhirFetcher(f"{ehr.url}/fhir", "t", timeout=2, policy=LOCAL).fetch("Patient/p")
    assert result.ok and result.resources[0]["resourceType"] == "Patient"


def test_a_redirect_chain_is_cut_at_three_hops_and_by_one_total_deadline(recorder):
    ehr = recorder(redirect_to("/fhir/Patient/again", delay=0.25))
    started = time.monotonic()
    result = FhirFetcher(f"{ehr.url}/fhir", "t", timeout=0.6, policy=LOCAL).fetch("Patient/p")
    elapsed = time.monotonic() - started
    assert result.error in ("timeout", "more than 3 redirects")
    assert elapsed < 1.5 and len(ehr.hits) <= 4


def test_a_server_dripping_its_headers_cannot_hold_the_worker_past_the_deadline(recorder):
    ehr = recorder(slow_headers)
    started = time.monotonic()
    result = FhirFetcher(f"{ehr.url}/fhir", "t", timeout=0.6, policy=LOCAL).fetch("Patient/p")
    assert result.error == "timeout"
    assert time.monotonic() - started < 1.5


def _jwt_app(tmp_path, fhir_servers):
    import uuid

    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    jwk = {**pyjwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    issuer = "https://ehr.example.org"
    app = make_closed_app(tmp_path, CDS_JWT_REQUIRED=True, PUBLIC_BASE_URL="https://oncopath.example.org",
                          CDS_TRUSTED_ISSUERS={issuer: {"jwks": str(tmp_path / "jwks.json"),
                                                        "fhir_servers": fhir_servers}})

    def token():
        now = int(time.time())
        return pyjwt.encode({"iss": issuer, "aud": "https://oncopath.example.org" + SIGN, "iat": now,
                             "exp": now + 120, "jti": uuid.uuid4().hex}, key, algorithm="ES384",
                            headers={"kid": "k1"})
    return app, token


def test_fhir_server_must_be_one_the_verified_issuer_lists(tmp_path):
    app, token = _jwt_app(tmp_path, ["https://ehr.example.org/fhir"])
    client = FlaskClient(app)
    req = hook_without_patient("https://attacker.example.net/fhir")
    issue = outcome(client.post(SIGN, json=req, headers={"Authorization": f"Bearer {token()}"}), 412)
    assert "not a FHIR server this CDS client is registered for" in issue["diagnostics"]
    with responses.RequestsMock() as mocked:
        mocked.get("https://ehr.example.org/fhir/Patient/" + req["context"]["patientId"], status=404)
        req = hook_without_patient("https://EHR.example.org:443/fhir/")
        resp = client.post(SIGN, json=req, headers={"Authorization": f"Bearer {token()}"})
        assert resp.status_code == 412 and len(mocked.calls) == 1, resp.get_json()   # the listed server was asked
        assert mocked.calls[0].request.headers["Authorization"] == "Bearer ehr-access-token-123"


def test_an_issuer_in_the_old_form_may_name_no_fhir_server_at_all(tmp_path):
    app, token = _jwt_app(tmp_path, [])
    req = hook_without_patient("https://ehr.example.org/fhir")
    issue = outcome(FlaskClient(app).post(SIGN, json=req, headers={"Authorization": f"Bearer {token()}"}), 412)
    assert "not a FHIR server" in issue["diagnostics"]


@pytest.mark.parametrize("server", ["https://user:pw@ehr.example.org/fhir", "https://ehr.example.org/fhir?x=1",
                                    "https://ehr.example.org/fhir#frag"])
def test_a_fhir_server_with_user_query_or_fragment_is_a_400(app, server):
    req = hook_without_patient(server)
    issue = outcome(FlaskClient(app).post(SIGN, json=req), 400)
    assert issue["expression"] == ["fhirServer"]


def test_fhir_authorization_is_neither_stored_with_the_case_nor_logged(app, caplog):
    from reliability.harness import load_fixture

    req = load_fixture("hooks/order-sign-thp-her2-positive.json")
    req["fhirServer"] = "https://ehr.example.org/fhir"
    req["fhirAuthorization"] = {"access_token": "ehr-secret-token-xyz", "token_type": "Bearer", "expires_in": 300,
                                "scope": "patient/*.read", "subject": "oncopath"}
    with caplog.at_level(logging.DEBUG):
        resp = FlaskClient(app).post(SIGN, json=req)
    assert resp.status_code == 200 and resp.get_json()["cards"]
    with app.extensions["oncopath.store"].uow() as uow:
        stored = uow.session.scalars(select(CaseRow.raw_request)).first()
    assert stored["hookInstance"] == req["hookInstance"] and "fhirAuthorization" not in stored
    assert "ehr-secret-token-xyz" not in json.dumps(stored)
    assert all("ehr-secret-token-xyz" not in r.getMessage() for r in caplog.records)

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
