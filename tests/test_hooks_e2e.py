"""End to end through HTTP, with the real mapping, engine, knowledge base and store:
one test per card type, asserting the card and the coverage-information it comes with."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from cards.codes import COVERAGE_INFORMATION_URL
from mappings.crd_checks import response_problems
from server.app import create_app

SIGN = "/cds-services/oncopath-order-sign"
SELECT = "/cds-services/oncopath-order-select"
BASE = "https://oncopath.example.org"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)   # the fixtures' treatment starts 2026-12-01


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
                      "CDS_JWT_REQUIRED": False, "PUBLIC_BASE_URL": BASE, "PAYER_NAME": "Summit Health Plan"})
    app.extensions["oncopath.clock"] = lambda: NOW
    return app


@pytest.fixture
def hook(app, fixtures_dir):
    client = app.test_client()

    def call(name_or_body, path=None):
        body = name_or_body if isinstance(name_or_body, dict) else \
            json.loads((fixtures_dir / "hooks" / name_or_body).read_text())
        path = path or (SIGN if body["hook"] == "order-sign" else SELECT)
        resp = client.post(path, json=body)
        assert resp.status_code == 200, resp.get_json()
        out = resp.get_json()
        assert response_problems(out, hook=body["hook"]) == []
        return out
    return call


def fixture(fixtures_dir, name) -> dict:
    return json.loads((fixtures_dir / "hooks" / name).read_text())


def cards_by_topic(body) -> dict[str, dict]:
    return {c["source"]["topic"]["code"]: c for c in body["cards"]}


def info(action) -> dict[str, list]:
    ext = next(e for e in action["resource"]["extension"] if e["url"] == COVERAGE_INFORMATION_URL)
    out: dict[str, list] = {}
    for sub in ext["extension"]:
        value = sub if sub["url"] == "detail" else next(v for k, v in sub.items() if k.startswith("value"))
        out.setdefault(sub["url"], []).append(value)
    return out


def actions_by_id(body) -> dict[str, dict]:
    return {a["resource"]["id"]: info(a) for a in body["systemActions"]}


def test_thp_for_a_her2_positive_patient_is_on_pathway_and_authorized_with_the_order_id(app, hook):
    body = hook("order-sign-thp-her2-positive.json")
    card = cards_by_topic(body)["guideline"]
    assert card["indicator"] == "info"
    assert card["source"]["label"] == "Summit Health Plan"
    assert card["summary"].startswith("Authorized: Order ID ONC-")
    assert card["summary"].endswith(". THP (docetaxel, trastuzumab, pertuzumab) is on pathway.")
    order_id = re.search(r"Order ID (ONC-\w+)", card["summary"]).group(1)
    assert card["source"]["url"] == f"{BASE}/portal/status?order_id={order_id}"
    actions = actions_by_id(body)
    assert set(actions) == {"docetaxel", "trastuzumab", "pertuzumab"}
    for drug, hcpcs in {"docetaxel": "J9171", "trastuzumab": "J9355", "pertuzumab": "J9306"}.items():
        a = actions[drug]
        assert a["covered"] == ["covered"] and a["pa-needed"] == ["satisfied"]
        assert a["satisfied-pa-id"] == [order_id]
        assert a["billingCode"][0]["code"] == hcpcs
        assert a["coverage"] == [{"reference": "Coverage/coverage"}]
    case = app.extensions["oncopath.store"].get_case(order_id)
    assert case.source == "cds" and case.status == "Authorized"
    assert case.request_key == "6b0f1f0e-5d3c-4a57-9a43-1f1a3c2b7e01"


def test_the_same_hook_instance_again_gets_the_same_answer_and_stores_nothing_new(app, hook):
    first = hook("order-sign-thp-her2-positive.json")
    again = hook("order-sign-thp-her2-positive.json")
    assert again == first
    assert app.extensions["oncopath.store"].counts()["cases"] == 1


def test_a_retry_with_a_fresh_access_token_is_the_same_call_and_gets_the_same_answer(app, hook, fixtures_dir):
    def with_token(token: str) -> dict:
        call = fixture(fixtures_dir, "order-sign-thp-her2-positive.json")
        call["fhirServer"] = "https://ehr.example.org/fhir"     # everything is prefetched: nothing is fetched
        call["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "patient/*.read", "subject": "oncopath"}
        return call

    first = hook(with_token("the-first-token"))
    assert hook(with_token("a-fresh-token")) == first
    assert app.extensions["oncopath.store"].counts()["cases"] == 1


def test_a_different_call_reusing_a_hook_instance_is_a_case_of_its_own(app, hook, fixtures_dir):
    store = app.extensions["oncopath.store"]
    first = hook("order-sign-thp-her2-positive.json")
    other = fixture(fixtures_dir, "order-sign-thp-her2-negative.json")
    other["hookInstance"] = fixture(fixtures_dir, "order-sign-thp-her2-positive.json")["hookInstance"]
    second = hook(other)
    assert second != first
    assert store.counts()["cases"] == 2
    assert any(c["indicator"] == "warning" for c in second["cards"])      # the HER2-negative answer
    assert hook(other) == second and store.counts()["cases"] == 2       # and its own retry


def test_thp_for_a_her2_negative_patient_is_pended_naming_her2_with_the_worksheet(app, hook):
    body = hook("order-sign-thp-her2-negative.json")
    card = cards_by_topic(body)["coverage-info"]
    assert card["indicator"] == "warning"
    # the summary stays within 140 characters: with three drugs named, the Order ID moves to the detail
    assert card["summary"].startswith("Pended for review: docetaxel, trastuzumab and pertuzumab require a HER2-positive "
                                      "result; record shows HER2 negative (IHC 1+).")
    assert len(card["summary"]) <= 140
    assert "- Docetaxel, trastuzumab and pertuzumab require a HER2-positive result; the record shows HER2 negative (IHC 1+)." \
        in card["detail"] and "ONC-" in card["detail"]
    worksheet = f"{BASE}/fhir/Questionnaire/oncopath-worksheet-breast"
    [link] = card["links"]
    assert link["type"] == "absolute" and link["url"].startswith(f"{BASE}/worksheets/ONC-")
    for drug in ("trastuzumab", "pertuzumab"):
        a = actions_by_id(body)[drug]
        assert a["covered"] == ["conditional"] and a["pa-needed"] == ["auth-needed"]
        assert a["info-needed"] == ["OTH"] and a["doc-needed"] == ["clinical"] and a["doc-purpose"] == ["withpa"]
        assert a["questionnaire"] == [worksheet]
        assert "HER2 negative" in a["reason"][0]["text"]
        assert "satisfied-pa-id" not in a
    order_id = next(d["extension"][2]["valueString"] for d in actions_by_id(body)["trastuzumab"]["detail"]
                    if d["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] == "order-id")
    assert app.extensions["oncopath.store"].get_case(order_id).status == "In Progress"

    questionnaire = app.test_client().get("/fhir/Questionnaire/oncopath-worksheet-breast")
    assert questionnaire.status_code == 200
    q = questionnaire.get_json()
    assert q["resourceType"] == "Questionnaire" and q["url"] == worksheet
    markers = [i["linkId"] for g in q["item"] if g["linkId"] == "biomarkers" for i in g["item"]]
    assert "biomarkers.HER2" in markers and "biomarkers.ER" in markers


def test_an_off_pathway_regimen_gets_the_pathway_regimen_as_a_suggestion(hook):
    body = hook("order-sign-her2-positive-docetaxel-trastuzumab.json")
    card = cards_by_topic(body)["off-guideline"]
    assert card["indicator"] == "warning" and card["selectionBehavior"] == "at-most-one"
    # two first-line HER2-positive pathway regimens fit (issue 14 added T-DXd + pertuzumab); THP first
    assert card["summary"] == "Off pathway for breast cancer. 2 on-pathway regimens fit this patient."
    assert card["suggestions"][0]["label"] == "Switch to THP"
    suggestion = card["suggestions"][0]
    deletes = [a["resourceId"] for a in suggestion["actions"] if a["type"] == "delete"]
    assert deletes == ["MedicationRequest/docetaxel", "MedicationRequest/trastuzumab"]
    creates = [a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
               for a in suggestion["actions"] if a["type"] == "create"]
    assert creates == ["72962", "224905", "1298944"]   # RxNorm from the knowledge base
    assert actions_by_id(body)["trastuzumab"]["pa-needed"] == ["auth-needed"]


def test_a_growth_factor_with_immunotherapy_alone_pends_with_its_reasons_and_the_immunotherapy_is_authorized(hook):
    body = hook("order-sign-pembrolizumab-pegfilgrastim.json")
    card = body["cards"][0]
    # pegfilgrastim's label: with myelosuppressive chemotherapy; pembrolizumab alone is none
    assert card["summary"] == ("Pended for review: pegfilgrastim requires a chemotherapy drug alongside it; record "
                               "shows no chemotherapy drug on the request.")
    assert "**Already authorized:** pembrolizumab." in card["detail"]
    fn = cards_by_topic(body)["appropriate-use"]
    assert "growth factor not indicated for a low FN-risk regimen" in fn["summary"]
    assert "low FN-risk" not in card["detail"], "each finding is said once"


def test_a_second_thp_request_for_the_same_patient_gets_a_duplicate_therapy_card(hook, fixtures_dir):
    first = hook("order-sign-thp-her2-positive.json")
    order_id = actions_by_id(first)["docetaxel"]["satisfied-pa-id"][0]
    second = fixture(fixtures_dir, "order-sign-thp-her2-positive.json")
    second["hookInstance"] = "another-order-for-the-same-regimen"
    for entry in second["context"]["draftOrders"]["entry"]:   # new EHR orders, not a re-sign
        entry["resource"]["id"] = "new-" + entry["resource"]["id"]
    body = hook(second)
    assert [c["source"]["topic"]["code"] for c in body["cards"]][:2] == ["coverage-info", "duplicate-therapy"]
    assert body["cards"][0]["summary"].startswith("Pended for review: a similar request is on file.")
    card = body["cards"][1]
    assert card["summary"] == f"Possible duplicate: Order ID {order_id} is on file for the same drugs and dates."
    assert all("satisfied-pa-id" not in a for a in actions_by_id(body).values())


def test_the_same_draft_orders_signed_again_are_not_their_own_duplicate(hook, fixtures_dir):
    hook("order-sign-thp-her2-positive.json")
    again = fixture(fixtures_dir, "order-sign-thp-her2-positive.json")
    again["hookInstance"] = "the-same-orders-signed-again"
    body = hook(again)
    assert "duplicate-therapy" not in cards_by_topic(body)
    assert body["cards"][0]["summary"].startswith("Authorized: Order ID ONC-")


def test_a_commercial_ppo_member_is_outside_the_program(hook):
    body = hook("order-sign-thp-commercial-ppo.json")
    assert list(cards_by_topic(body)) == ["insurance"]
    assert "Commercial PPO" in body["cards"][0]["summary"]
    for a in actions_by_id(body).values():
        assert a["pa-needed"] == ["no-auth"] and a["reason"][0]["coding"][0]["code"] == "not-in-program"


def test_an_out_of_network_ordering_provider_gets_a_network_card(hook, fixtures_dir):
    body = fixture(fixtures_dir, "order-sign-thp-her2-positive.json")
    body["prefetch"]["practitioner"]["extension"][0]["valueCode"] = "out-of-network"
    card = cards_by_topic(hook(body))["network"]
    assert "out of network" in card["summary"]


def test_order_select_advises_on_the_selection_and_records_nothing(app, hook):
    body = hook("order-select-thp-her2-positive.json")
    assert [a["resource"]["id"] for a in body["systemActions"]] == ["trastuzumab"]
    a = info(body["systemActions"][0])
    assert a["pa-needed"] == ["auth-needed"] and "satisfied-pa-id" not in a
    card = cards_by_topic(body)["guideline"]
    assert card["summary"] == "Meets policy and pathway: THP (docetaxel, trastuzumab, pertuzumab) is authorized when signed."
    assert card["extension"]["davinci-crd.associated-resource"] == [{"reference": "MedicationRequest/trastuzumab"}]
    assert app.extensions["oncopath.store"].counts()["cases"] == 0


def test_an_unknown_worksheet_is_a_404(app):
    resp = app.test_client().get("/fhir/Questionnaire/oncopath-worksheet-spleen")
    assert resp.status_code == 404 and resp.get_json()["resourceType"] == "OperationOutcome"


def test_drugs_coded_with_the_https_rxnorm_variant_are_reviewed_like_the_canonical_uri(client, fixtures_dir):
    req = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    for entry in req["context"]["draftOrders"]["entry"]:
        for coding in entry["resource"]["medicationCodeableConcept"]["coding"]:
            coding["system"] = coding["system"].replace("http://", "https://")
    req["hookInstance"] = "https-variant-" + req["hookInstance"]
    body = client.post("/cds-services/oncopath-order-sign", json=req).get_json()
    assert body["cards"][0]["summary"].startswith("Authorized: Order ID ONC-")


def test_a_regimen_ordered_by_rxnorm_product_codes_is_reviewed_like_its_ingredients(client, fixtures_dir):
    req = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    # product codes the knowledge base (keyed by ingredient) does not hold; their displays name the drug
    products = {"72962": ("9900001", "docetaxel 20 MG/ML Injectable Solution"),
                "224905": ("9900002", "trastuzumab 150 MG Injection [Herceptin]"),
                "1298944": ("9900003", "pertuzumab 30 MG/ML Injectable Solution")}
    for entry in req["context"]["draftOrders"]["entry"]:
        for coding in entry["resource"]["medicationCodeableConcept"]["coding"]:
            if coding["code"] in products:
                coding["code"], coding["display"] = products[coding["code"]]
    req["hookInstance"] = "product-codes-" + req["hookInstance"]
    body = client.post("/cds-services/oncopath-order-sign", json=req).get_json()
    assert body["cards"][0]["summary"].startswith("Authorized: Order ID ONC-")


def test_a_draft_naming_a_program_drug_only_in_text_goes_to_review_not_no_auth(client, fixtures_dir):
    req = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    first = req["context"]["draftOrders"]["entry"][1]["resource"]
    first["medicationCodeableConcept"] = {"text": "Trastuzumab 8 mg/kg IV"}
    req["hookInstance"] = "text-only-" + req["hookInstance"]
    body = client.post("/cds-services/oncopath-order-sign", json=req).get_json()
    action = next(a for a in body["systemActions"] if a["resource"]["id"] == first["id"])
    info = {e["url"]: e for e in next(x for x in action["resource"]["extension"]
                                      if x["url"] == COVERAGE_INFORMATION_URL)["extension"]}
    assert info["pa-needed"]["valueCode"] != "no-auth"


def test_a_dose_outside_the_regimen_is_a_warning_card_and_the_regimen_stays_authorized(hook, fixtures_dir):
    call = fixture(fixtures_dir, "order-sign-thp-her2-positive.json")
    call["hookInstance"] = "pertuzumab-600"
    for entry in call["context"]["draftOrders"]["entry"]:
        for di in entry["resource"].get("dosageInstruction", []):
            for dr in di.get("doseAndRate", []):
                if "pertuzumab" in str(entry["resource"].get("medicationCodeableConcept")).lower() \
                        and dr.get("doseQuantity", {}).get("value") == 420:
                    dr["doseQuantity"]["value"] = 600
    body = hook(call)
    assert body["cards"][0]["summary"].startswith("Authorized")
    dose = cards_by_topic(body)["appropriate-use"]
    assert dose["summary"] == "Check the pertuzumab dose: 600 mg instead of 420 mg."
    assert dose["indicator"] == "warning" and "does not change the decision" in dose["detail"]

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
