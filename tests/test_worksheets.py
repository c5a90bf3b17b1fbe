"""The worksheet a clinician fills in from the pended card: a prefilled HTML form whose
submission attaches a QuestionnaireResponse to the case and decides it again at once."""
from __future__ import annotations

import copy
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from server.app import create_app
from server.errors import Conflict

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fixtures" / "hooks"))
from build import _load, hook_request  # noqa: E402

BASE = "https://oncopath.example.org"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def her2_not_reported(instance: str = "ws-her2-unknown") -> dict:
    """THP for the HER2-positive metastatic patient, without the HER2 results."""
    bundle = copy.deepcopy(_load("thp-her2-positive-metastatic.json"))
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] not in ("her2-ihc", "her2-interpretation")]
    return hook_request(bundle, "order-sign", instance)


def make_app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'ws.db'}", "CDS_JWT_REQUIRED": False,
                      "PUBLIC_BASE_URL": BASE, "PAYER_NAME": "Summit Health Plan", "SECRET_KEY": "test-secret"})
    app.extensions["oncopath.clock"] = lambda: NOW
    return app


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


def sign(client, body: dict) -> dict:
    resp = client.post("/cds-services/oncopath-order-sign", json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def worksheet_link(body: dict) -> str:
    pended = body["cards"][0]
    assert pended["summary"].startswith("Pended for review: HER2 not in the record.")
    [link] = pended["links"]
    assert link["type"] == "absolute" and link["url"].startswith(f"{BASE}/worksheets/ONC-")
    return link["url"]


def test_the_pended_card_links_a_worksheet_form_prefilled_from_the_request(app):
    client = app.test_client()
    url = worksheet_link(sign(client, her2_not_reported()))
    page = client.get(url.removeprefix(BASE))
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Oncology regimen worksheet: Breast cancer" in html
    assert re.search(r'name="diagnosis.stage" value="IV"', html)
    assert "<li>HER2 is not in the record; docetaxel, trastuzumab and pertuzumab need a HER2-positive result.</li>" in html
    assert re.search(r'<option value="metastatic" selected>', html)
    assert re.search(r'id="biomarkers.ER" name="biomarkers.ER">\s*<option value="">—</option>\s*'
                     r'<option value="positive" selected>', html)
    her2 = re.search(r'id="biomarkers.HER2" name="biomarkers.HER2">(.*?)</select>', html, re.S).group(1)
    assert "selected" not in her2, "HER2 was not reported: nothing is preselected"


def test_a_worksheet_reporting_her2_positive_authorizes_the_pended_case_at_once(app):
    client = app.test_client()
    url = worksheet_link(sign(client, her2_not_reported()))
    order_id = re.search(r"/worksheets/(ONC-\w+)", url).group(1)
    token = url.split("?t=")[1]
    resp = client.post(f"/worksheets/{order_id}", data={"t": token, "biomarkers.HER2": "positive",
                                                        "biomarkers.HER2.value": "IHC 3+", "diagnosis.ecog": "1"})
    assert resp.status_code == 200
    assert re.search(r'id="case-status">Authorized<', resp.get_data(as_text=True))
    store = app.extensions["oncopath.store"]
    case = store.get_case(order_id)
    assert case.status == "Authorized"
    assert {d["status"] for d in case.decision["drugs"]} == {"Authorized"}
    event = store.case_events(order_id)[-1]
    assert (event.kind, event.status, event.actor) == ("worksheet", "Authorized", "provider")


def test_the_worksheet_attaches_a_questionnaire_response_with_the_answers_and_no_patient_identifiers(app):
    client = app.test_client()
    url = worksheet_link(sign(client, her2_not_reported("ws-qr")))
    order_id = re.search(r"/worksheets/(ONC-\w+)", url).group(1)
    client.post(f"/worksheets/{order_id}", data={"t": url.split("?t=")[1], "biomarkers.HER2": "positive"})
    store = app.extensions["oncopath.store"]
    with store.uow(read_only=True) as uow:
        raw = uow.cases.events(order_id)[-1].raw_request
    assert raw["resourceType"] == "QuestionnaireResponse" and raw["status"] == "completed"
    assert raw["questionnaire"] == "Questionnaire/oncopath-worksheet-breast"
    assert {"linkId": "biomarkers.HER2", "answer": [{"valueCoding": {"code": "positive", "display": "positive"}}]} \
        in raw["item"]
    assert "subject" not in raw and "MBR" not in json.dumps(raw)


def test_a_worksheet_link_with_a_wrong_token_is_answered_like_an_unknown_case(app):
    client = app.test_client()
    url = worksheet_link(sign(client, her2_not_reported("ws-token")))
    order_id = re.search(r"/worksheets/(ONC-\w+)", url).group(1)
    assert client.get(f"/worksheets/{order_id}?t=0000").status_code == 404
    assert client.get(f"/worksheets/{order_id}").status_code == 404
    resp = client.post(f"/worksheets/{order_id}", data={"t": "bad", "biomarkers.HER2": "positive"})
    assert resp.status_code == 404
    assert app.extensions["oncopath.store"].get_case(order_id).status == "In Progress"


def test_a_worksheet_with_an_impossible_ecog_is_refused_and_the_case_is_unchanged(app):
    client = app.test_client()
    url = worksheet_link(sign(client, her2_not_reported("ws-ecog")))
    order_id = re.search(r"/worksheets/(ONC-\w+)", url).group(1)
    resp = client.post(f"/worksheets/{order_id}", data={"t": url.split("?t=")[1], "biomarkers.HER2": "positive",
                                                        "diagnosis.ecog": "7"})
    assert resp.status_code == 400
    assert "ECOG must be a whole number from 0 to 5" in resp.get_data(as_text=True)
    store = app.extensions["oncopath.store"]
    assert store.get_case(order_id).status == "In Progress"
    assert [e.kind for e in store.case_events(order_id)] == ["created"]


def test_a_worksheet_reporting_her2_negative_keeps_the_case_in_review(app):
    client = app.test_client()
    url = worksheet_link(sign(client, her2_not_reported("ws-neg")))
    order_id = re.search(r"/worksheets/(ONC-\w+)", url).group(1)
    decision = app.extensions["oncopath.cases"].attach_worksheet(order_id,
                                {"biomarkers.HER2": "negative"}, NOW)
    assert decision.case_status.value == "In Progress"
    assert any(r.code == "policy-criteria-not-met" for d in decision.drugs for r in d.reasons)


def test_a_decided_case_takes_no_worksheet(app):
    client = app.test_client()
    body = sign(client, hook_request(_load("thp-her2-positive-metastatic.json"), "order-sign", "ws-authorized"))
    order_id = re.search(r"Order ID (ONC-\w+)", body["cards"][0]["summary"]).group(1)
    with pytest.raises(Conflict):
        app.extensions["oncopath.cases"].attach_worksheet(order_id,
                         {"biomarkers.HER2": "negative"}, NOW)


def test_sending_the_prefilled_form_back_unchanged_keeps_the_records_results_and_decision(app):
    """PD-L1 TPS 60 % comes prefilled as 'positive'; sent back, the value must not be lost."""
    from server.worksheets.service import merge_answers, prefill

    client = app.test_client()
    body = sign(client, hook_request(_load("nsclc-pembrolizumab-pdl1-high.json"), "order-sign", "ws-unchanged"))
    assert body["cards"][0]["summary"].startswith("Authorized")
    record = app.extensions["oncopath.store"].find_case_by_request_key("ws-unchanged")
    order = record.order_obj()
    assert merge_answers(order, prefill(order)) == order


def test_a_worksheet_link_with_non_ascii_characters_is_a_404_not_an_error(app):
    client = app.test_client()
    assert client.get("/worksheets/ONC-ÄÖ?t=é✓").status_code == 404
    assert client.post("/worksheets/ONC-X", data={"t": "ü"}).status_code == 404


def test_the_worksheet_of_a_case_already_decided_says_so_in_a_page(app):
    from server.worksheets import links

    client = app.test_client()
    body = sign(client, hook_request(_load("thp-her2-positive-metastatic.json"), "order-sign", "ws-closed"))
    order_id = re.search(r"Order ID (ONC-\w+)", body["cards"][0]["summary"]).group(1)
    url = links.form_url(BASE, order_id, "test-secret").removeprefix(BASE)
    page = client.get(url)
    assert page.status_code == 200 and "No worksheet needed" in page.get_data(as_text=True)
    resp = client.post(f"/worksheets/{order_id}", data={"t": url.split("?t=")[1], "biomarkers.HER2": "negative"})
    assert resp.status_code == 409 and re.search(r'id="case-status">Authorized<', resp.get_data(as_text=True))
    assert app.extensions["oncopath.store"].get_case(order_id).status == "Authorized"


def test_a_worksheet_on_a_pas_case_leaves_a_claim_response_that_inquire_returns_authorized(app):
    client = app.test_client()
    bundle = json.loads((REPO / "fixtures" / "pas" / "thp-her2-positive.json").read_text())
    her2 = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
            and "HER2" in json.dumps(e["resource"].get("code"))]
    assert her2, "the fixture's HER2 result"
    bundle["entry"] = [e for e in bundle["entry"] if e not in her2]
    gone = {e["fullUrl"] for e in her2} | {f"Observation/{e['resource']['id']}" for e in her2}
    claim = bundle["entry"][0]["resource"]
    claim["supportingInfo"] = [i for i in claim.get("supportingInfo", [])
                               if (i.get("valueReference") or {}).get("reference") not in gone]
    first = client.post("/fhir/Claim/$submit", data=json.dumps(bundle), content_type="application/fhir+json").get_json()
    order_id = first["entry"][0]["resource"]["id"]
    assert app.extensions["oncopath.store"].get_case(order_id).status == "In Progress"
    decision = app.extensions["oncopath.cases"].attach_worksheet(order_id, {"biomarkers.HER2": "positive"}, NOW)
    assert decision.drug("item/1").status.value == "Authorized"
    inquiry = json.loads((REPO / "fixtures" / "pas" / "inquiry-riverside.json").read_text())
    found = client.post("/fhir/Claim/$inquire", data=json.dumps(inquiry), content_type="application/fhir+json")
    assert found.status_code == 200, found.get_data(as_text=True)[:300]
    [returned] = [p["resource"] for p in found.get_json()["parameter"]]
    response = returned["entry"][0]["resource"]
    assert response["resourceType"] == "ClaimResponse" and response["id"] == order_id
    codes = {item["itemSequence"]: sub["valueCodeableConcept"]["coding"][0]["code"]
             for item in response["item"] for adj in item["adjudication"] for ext in adj.get("extension", [])
             if ext["url"].endswith("extension-reviewAction")
             for sub in ext["extension"] if sub["url"].endswith("extension-reviewActionCode")}
    assert codes[1] == "A1"

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
