"""R16 order summary (printable HTML) and GET ClaimResponse: content and who may see them.

A provider reads them as a registered B2B client of its organisation (SMART Backend Services
token); with the FHIR door open (development) the submitting provider's NPI is enough."""
from __future__ import annotations

import pytest

from conftest import CLIENT_KEY, client_token, register_client
from test_review_api import SUBMITTER_NPI, act, api, pended, review_app, token  # noqa: F401


def provider(client, npi: str = SUBMITTER_NPI) -> dict:
    """Authorization of a client registered for this one organisation."""
    app = client.application
    cid = register_client(app, CLIENT_KEY[1], organizations=[npi], name=f"gateway {npi}")
    return {"Authorization": f"Bearer {client_token(app, CLIENT_KEY[0], cid)}"}


@pytest.fixture
def approved(api, pended):  # noqa: F811
    client, _clock, _nurse, doctor = api
    act(client, doctor, pended, "approve")
    return pended


def test_the_summary_shows_drugs_hcpcs_dosing_units_dates_order_and_pathway_ids_and_s_codes(api, approved):
    client, *_ = api
    view = client.get(f"/orders/{approved}/summary?format=json", headers=provider(client)).get_json()
    assert view["orderId"] == approved and view["caseStatus"] == "Authorized"
    assert view["pathwayEligibleId"].startswith("PE-")
    drugs = {d["drugKey"]: d for d in view["drugs"]}
    assert drugs["trastuzumab"]["hcpcs"] == "J9355" and drugs["trastuzumab"]["status"] == "Authorized"
    assert drugs["trastuzumab"]["validFrom"] == "2026-12-01" and drugs["trastuzumab"]["validTo"]
    assert drugs["trastuzumab"]["billingUnits"] is not None and drugs["trastuzumab"]["visits"]
    assert "21-day cycle" in drugs["docetaxel"]["dosing"] or drugs["docetaxel"]["dosing"]
    assert [(s["code"], s["maxUnits"]) for s in view["sCodes"]][0] == ("S0353", 1)
    assert view["sCodes"][0]["validFrom"] == "2026-12-01"


def test_the_printable_summary_is_html_with_print_css_and_the_same_facts(api, approved):
    client, *_ = api
    resp = client.get(f"/orders/{approved}/summary", headers=provider(client))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    for fact in (approved, "Authorized", "J9355", "S0353", "S0354", "PE-", "<th scope=\"col\">Billing units</th>"):
        assert fact in html
    css = client.get("/static/portal.css").get_data(as_text=True)
    assert "@media print" in css


def test_an_order_id_with_another_providers_token_reveals_nothing(api, approved):
    client, *_ = api
    other = provider(client, "1245319599")
    wrong = client.get(f"/orders/{approved}/summary?npi={SUBMITTER_NPI}", headers=other)
    unknown = client.get("/orders/ONC-ZZZZZZZZZZ/summary", headers=provider(client))
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_json()["issue"][0]["diagnostics"] == unknown.get_json()["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/ClaimResponse/{approved}", headers=other).status_code == 404
    # without any credentials, the NPI alone opens nothing while the door is closed
    assert client.get(f"/orders/{approved}/summary?npi={SUBMITTER_NPI}").status_code == 401


def test_a_reviewer_sees_any_summary_and_claim_response(api, approved):
    client, _clock, nurse, _ = api
    assert client.get(f"/orders/{approved}/summary", headers=nurse).status_code == 200
    cr = client.get(f"/fhir/ClaimResponse/{approved}", headers=nurse)
    assert cr.mimetype == "application/fhir+json" and cr.get_json()["id"] == approved
    assert client.get(f"/fhir/ClaimResponse/{approved}", headers={"Authorization": "Bearer bogus"}).status_code == 401


def test_the_claim_response_is_the_current_one_for_the_provider(api, pended):  # noqa: F811
    client, *_ = api
    own = provider(client)
    before = client.get(f"/fhir/ClaimResponse/{pended}", headers=own).get_json()
    assert before["disposition"] == "Case status: In Progress"
    act(client, token(client, "paul"), pended, "approve")
    after = client.get(f"/fhir/ClaimResponse/{pended}", headers=own).get_json()
    assert after["disposition"] == "Case status: Authorized" and after["preAuthRef"] == pended


def test_a_pended_summary_says_why_and_by_when(api, pended):  # noqa: F811
    client, *_ = api
    view = client.get(f"/orders/{pended}/summary?format=json", headers=provider(client)).get_json()
    assert view["caseStatus"] == "In Progress" and view["pathwayEligibleId"] is None
    assert view["dueBy"] == "2026-11-25T14:00:00+00:00"
    assert any("HER2" in r for r in view["pendReasons"]) and view["sCodes"] == []

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
