"""Stored identifiers have a length cap (PostgreSQL's btree refused ≥ 3,000 characters with a
500); gunicorn's own errors are OperationOutcomes."""
from __future__ import annotations

import json
import socket

import pytest
from flask.testing import FlaskClient

from reliability.harness import load_fixture

from .conftest import SUBMIT, VICTIM_NPI, Party, make_closed_app, outcome

SIGN = "/cds-services/oncopath-order-sign"


@pytest.fixture
def any_db_app(tmp_path, database_url):
    from server.app import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "CDS_JWT_REQUIRED": False})


def test_a_hook_instance_of_3000_characters_is_a_400_on_sqlite_and_postgresql(any_db_app):
    body = load_fixture("hooks/order-sign-thp-her2-positive.json")
    body["hookInstance"] = "x" * 3000
    issue = outcome(FlaskClient(any_db_app).post(SIGN, json=body), 400)
    assert issue["code"] == "too-long" and issue["expression"] == ["hookInstance"]
    assert any_db_app.extensions["oncopath.store"].counts()["cases"] == 0


def test_a_claim_identifier_of_3000_characters_is_a_400_on_sqlite_and_postgresql(any_db_app):
    bundle = load_fixture("pas/thp-her2-positive.json")
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = "C" * 3000
    issue = outcome(Party(any_db_app, [VICTIM_NPI]).post(SUBMIT, bundle), 400)
    assert issue["code"] == "too-long" and "MAX_IDENTIFIER_LENGTH" in issue["diagnostics"]
    assert any_db_app.extensions["oncopath.store"].counts()["cases"] == 0


def test_a_member_id_of_3000_characters_in_prefetch_is_a_400(app):
    body = load_fixture("hooks/order-sign-thp-her2-positive.json")
    body["prefetch"]["patient"]["identifier"] = [{"system": "urn:member", "value": "M" * 3000}]
    issue = outcome(FlaskClient(app).post(SIGN, json=body), 400)
    assert issue["expression"] == ["prefetch.patient[0]"]


def test_gunicorns_own_errors_are_operation_outcomes():
    from server.serving import operation_outcome_error

    ours, theirs = socket.socketpair()
    try:
        operation_outcome_error(ours, 431, "Request Header Fields Too Large", "limit_request_field_size")
        raw = theirs.recv(65536).decode()
    finally:
        ours.close()
        theirs.close()
    head, body = raw.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 431") and "Content-Type: application/fhir+json" in head
    doc = json.loads(body)
    assert doc["resourceType"] == "OperationOutcome" and doc["issue"][0]["code"] == "too-costly"


def test_serving_installs_the_operation_outcome_error_pages(tmp_path):
    from gunicorn import util

    from server.serving import install_error_pages, operation_outcome_error

    original = util.write_error
    try:
        install_error_pages()
        assert util.write_error is operation_outcome_error
    finally:
        util.write_error = original


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_in_hook_pas_and_subscription_bodies(app, token):
    hook = json.dumps(load_fixture("hooks/order-sign-thp-her2-positive.json")).replace(
        '"hookInstance"', f'"x": {token}, "hookInstance"', 1)
    assert "not a JSON number" in outcome(FlaskClient(app).post(SIGN, data=hook, content_type="application/json"),
                                          400)["diagnostics"]
    pas = json.dumps(load_fixture("pas/thp-her2-positive.json")).replace('"type"', f'"x": {token}, "type"', 1)
    gateway = Party(app, [VICTIM_NPI])
    resp = gateway.http.post(SUBMIT, data=pas, content_type="application/fhir+json", headers=gateway.headers)
    assert "not a JSON number" in outcome(resp, 400)["diagnostics"]
    assert app.extensions["oncopath.store"].counts()["cases"] == 0
    text = "a NaN of Infinity in a string is text"
    body = load_fixture("hooks/order-sign-thp-her2-positive.json")
    body["context"]["userId"] = "Practitioner/NaN-Infinity"
    assert FlaskClient(app).post(SIGN, json=body).status_code == 200, text

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
