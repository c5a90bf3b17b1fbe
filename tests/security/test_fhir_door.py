"""The FHIR door is for registered B2B clients only (SMART Backend Services), each for its own
organisations: the attacks of issue 15, replayed, are refused."""
from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from reliability.harness import load_fixture
from server.security.clients import SCOPE_READ, SCOPE_SUBMIT
from server.store.models import AuditRow, CaseRow

from .conftest import ATTACKER_NPI, INQUIRE, PHI, SUBMIT, VICTIM_NPI, Party, inquiry_for, outcome



CALLS = [("post", SUBMIT, "pas/thp-her2-positive.json"), ("post", INQUIRE, "pas/inquiry-riverside.json"),
         ("get", "/fhir/ClaimResponse/ONC-AAAAAAAAAA", None), ("post", "/fhir/Subscription", None),
         ("get", "/fhir/Subscription/abc", None), ("delete", "/fhir/Subscription/abc", None),
         ("get", "/orders/ONC-AAAAAAAAAA/summary?npi=1234567893", None)]


@pytest.mark.parametrize("method, path, fixture", CALLS, ids=[f"{m} {p}" for m, p, _ in CALLS])
def test_without_a_token_every_call_of_the_fhir_door_is_a_401_operation_outcome(anonymous, app, method, path,
                                                                                  fixture):
    body = json.dumps(load_fixture(fixture)) if fixture else "{}"
    kw = {"data": body, "content_type": "application/fhir+json"} if method == "post" else {}
    resp = getattr(anonymous, method)(path, **kw)
    issue = outcome(resp, 401)
    assert issue["code"] == "login" and "/oauth/token" in issue["diagnostics"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    with app.extensions["oncopath.store"].uow() as uow:
        assert uow.session.scalars(select(CaseRow)).first() is None


def test_an_unknown_or_made_up_token_is_a_401(anonymous):
    resp = anonymous.post(SUBMIT, data=json.dumps(load_fixture("pas/thp-her2-positive.json")),
                          content_type="application/fhir+json", headers={"Authorization": "Bearer not-a-token"})
    assert "unknown, expired or revoked" in outcome(resp, 401)["diagnostics"]


def test_a_registered_clients_token_submits_and_inquires_for_its_own_organisation(victim, victim_case):
    found = victim.post(INQUIRE, inquiry_for(VICTIM_NPI)).get_json()
    assert [p["resource"]["entry"][0]["resource"]["preAuthRef"] for p in found["parameter"]] == [victim_case]
    read = victim.get(f"/fhir/ClaimResponse/{victim_case}")
    assert read.status_code == 200 and read.get_json()["preAuthRef"] == victim_case


def test_the_bearer_scheme_is_matched_in_any_case(victim, victim_case):
    resp = victim.http.get(f"/fhir/ClaimResponse/{victim_case}", headers={"Authorization": f"bearer {victim.token}"})
    assert resp.status_code == 200 and resp.get_json()["preAuthRef"] == victim_case


def test_an_inquiry_naming_the_victims_npi_from_another_client_finds_nothing(attacker, victim_case):
    resp = attacker.post(INQUIRE, inquiry_for(VICTIM_NPI))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body == {"resourceType": "Parameters", "parameter": []}
    for value in PHI + (victim_case,):
        assert value not in resp.get_data(as_text=True)


def test_another_clients_claimresponse_and_summary_reads_look_like_unknown_order_ids(attacker, victim_case):
    for path in (f"/fhir/ClaimResponse/{victim_case}", f"/orders/{victim_case}/summary?npi={VICTIM_NPI}&format=json"):
        known = attacker.get(path)
        unknown = attacker.get(path.replace(victim_case, "ONC-ZZZZZZZZZZ"))
        assert outcome(known, 404) == outcome(unknown, 404)
        assert not any(v in known.get_data(as_text=True) for v in PHI)


def test_a_cancel_naming_the_victims_npi_with_a_new_identifier_is_refused_and_the_case_stays(app, attacker,
                                                                                             victim_case):
    cancel = load_fixture("pas/thp-her2-positive-cancel.json")
    cancel["entry"][0]["resource"]["identifier"][0]["value"] = "attacker-new-identifier"
    issue = outcome(attacker.post(SUBMIT, cancel), 403)
    assert "not registered for the provider" in issue["diagnostics"]
    record = app.extensions["oncopath.store"].get_case(victim_case)
    assert record.status != "Review Cancelled" and record.revision == 1


def test_a_cancel_with_the_attackers_own_npi_cannot_reach_the_victims_case(app, attacker, victim_case):
    cancel = json.loads(json.dumps(load_fixture("pas/thp-her2-positive-cancel.json")).replace(VICTIM_NPI, ATTACKER_NPI))
    cancel["entry"][0]["resource"]["identifier"][0]["value"] = "attacker-own-npi"
    resp = attacker.post(SUBMIT, cancel)
    assert resp.status_code in (200, 422)
    assert app.extensions["oncopath.store"].get_case(victim_case).status != "Review Cancelled"


def test_a_scope_the_token_lacks_is_a_403(app, victim_case):
    reader = Party(app, [VICTIM_NPI], scopes=[SCOPE_READ])
    issue = outcome(reader.post(SUBMIT, load_fixture("pas/thp-her2-positive.json")), 403)
    assert SCOPE_SUBMIT in issue["diagnostics"]


def test_a_revoked_clients_tokens_are_refused_at_once(app, victim, victim_case):
    assert victim.get(f"/fhir/ClaimResponse/{victim_case}").status_code == 200
    app.extensions["oncopath.clients"].revoke(victim.client_id)
    assert "unknown" in outcome(victim.get(f"/fhir/ClaimResponse/{victim_case}"), 401)["diagnostics"]
    resubmit = victim.post(SUBMIT, load_fixture("pas/thp-her2-positive.json"))
    assert "revoked" in outcome(resubmit, 401)["diagnostics"]


def test_an_inquiry_may_not_carry_hundreds_of_npis_or_member_ids(victim):
    inquiry = inquiry_for(VICTIM_NPI)
    patient = next(e["resource"] for e in inquiry["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["identifier"] = [{"system": "urn:x", "value": f"M{i}"} for i in range(1000)]
    issue = outcome(victim.post(INQUIRE, inquiry), 422)
    assert issue["code"] == "too-costly"


def test_refused_calls_do_not_write_an_audit_row_each(app, anonymous):
    body = json.dumps(load_fixture("pas/thp-her2-positive.json"))
    for _ in range(50):
        assert anonymous.post(SUBMIT, data=body, content_type="application/fhir+json").status_code == 401
    with app.extensions["oncopath.store"].uow() as uow:
        actions = list(uow.session.scalars(select(AuditRow.action).where(AuditRow.entity == "access")))
    assert actions == ["access.refused.401"]


def test_the_open_switch_is_explicit_and_logged(tmp_path, caplog):
    from .conftest import make_closed_app

    with caplog.at_level("WARNING"):
        app = make_closed_app(tmp_path, FHIR_AUTH_REQUIRED=False)
    assert any("FHIR door OPEN" in r.getMessage() for r in caplog.records)
    resp = FlaskClient(app).post(SUBMIT, data=json.dumps(load_fixture("pas/thp-her2-positive.json")),
                                 content_type="application/fhir+json")
    assert resp.status_code == 200 and resp.get_json()["entry"][0]["resource"]["outcome"] == "complete"


def test_the_production_default_closes_the_door_and_needs_public_base_url():
    from server import config
    from server.app import create_app

    assert config.DEFAULTS["FHIR_AUTH_REQUIRED"] is True and config.DEFAULTS["CDS_JWT_REQUIRED"] is True
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app({"DATABASE_URL": "sqlite://"})

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
