"""POST /cds-services/{id}: request checks, the official examples, prefetch and the EHR fetch path."""
from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import responses

from cards.codes import COVERAGE_INFORMATION_URL
from mappings.crd_checks import response_problems
from server.app import create_app

SIGN = "/cds-services/oncopath-order-sign"
SELECT = "/cds-services/oncopath-order-select"
EHR = "https://ehr.example.org/fhir"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)   # the fixtures' treatment starts 2026-12-01


@pytest.fixture
def client(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'hooks.db'}",
                      "CDS_JWT_REQUIRED": False, "PUBLIC_BASE_URL": "https://oncopath.example.org",
                      "PAYER_NAME": "Summit Health Plan", "FHIR_FETCH_TIMEOUT": 0.5})
    app.extensions["oncopath.clock"] = lambda: NOW
    return app.test_client()


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def thp(fixtures_dir) -> dict:
    return load(fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json")


def coverage_info(action: dict) -> dict[str, list]:
    ext = next(e for e in action["resource"]["extension"] if e["url"] == COVERAGE_INFORMATION_URL)
    out: dict[str, list] = {}
    for sub in ext["extension"]:
        value = sub if sub["url"] == "detail" else next(v for k, v in sub.items() if k.startswith("value"))
        out.setdefault(sub["url"], []).append(value)
    return out


def ok(resp, hook="order-sign") -> dict:
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert response_problems(body, hook=hook) == []
    return body


def outcome(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_json()
    assert resp.mimetype == "application/fhir+json"
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def coverage_bundle(cov_id="cov-1") -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Coverage", "id": cov_id, "status": "active",
                      "beneficiary": {"reference": "Patient/1288992"}, "payor": [{"display": "Summit"}]}}]}


# --- malformed requests ---------------------------------------------------------------------

def test_a_body_that_is_not_json_is_a_400_operation_outcome(client):
    issue = outcome(client.post(SIGN, data="{not json", content_type="application/json"), 400)
    assert issue["code"] == "structure" and "JSON" in issue["diagnostics"]


def _drop(path: str):
    def mutate(req):
        *parents, leaf = path.split(".")
        node = req
        for p in parents:
            node = node[p]
        del node[leaf]
    return mutate


@pytest.mark.parametrize("mutate, expression", [
    (_drop("hook"), "hook"),
    (_drop("hookInstance"), "hookInstance"),
    (_drop("context"), "context"),
    (_drop("context.draftOrders"), "context.draftOrders"),
    (_drop("context.patientId"), "context.patientId"),
    (lambda r: r["context"].update(draftOrders={"resourceType": "Patient"}), "context.draftOrders"),
    (lambda r: r["context"]["draftOrders"]["entry"][0]["resource"].pop("id"),
     "context.draftOrders.entry[0].resource.id"),
    (lambda r: r.update(fhirAuthorization={"access_token": "t", "token_type": "Bearer"}), "fhirServer"),
    (lambda r: r.update(prefetch=["not", "an", "object"]), "prefetch"),
    (lambda r: r.update(extension={"davinci-crd.configuration": {"max-cards": "five"}}),
     'extension["davinci-crd.configuration"].max-cards'),
], ids=["hook", "hookInstance", "context", "draftOrders", "patientId", "draftOrders-not-bundle",
        "draft-without-id", "fhirAuthorization-without-fhirServer", "prefetch-not-object", "bad-max-cards"])
def test_a_request_missing_what_cds_hooks_requires_is_a_400_naming_the_field(client, thp, mutate, expression):
    req = copy.deepcopy(thp)
    mutate(req)
    issue = outcome(client.post(SIGN, json=req), 400)
    assert issue["expression"] == [expression]


def test_order_select_needs_selections_that_point_into_draft_orders(client, fixtures_dir):
    req = load(fixtures_dir / "hooks" / "order-select-thp-her2-positive.json")
    bad = copy.deepcopy(req)
    del bad["context"]["selections"]
    assert outcome(client.post(SELECT, json=bad), 400)["expression"] == ["context.selections"]
    bad["context"]["selections"] = ["MedicationRequest/not-there"]
    issue = outcome(client.post(SELECT, json=bad), 400)
    assert "MedicationRequest/not-there" in issue["diagnostics"]


def test_an_unknown_service_is_a_404_operation_outcome(client, thp):
    issue = outcome(client.post("/cds-services/no-such-service", json=thp), 404)
    assert issue["code"] == "not-found"


def test_a_hook_the_service_does_not_serve_is_a_400(client, thp):
    issue = outcome(client.post(SELECT, json=thp), 400)   # an order-sign call to the order-select service
    assert issue["code"] == "not-supported" and issue["expression"] == ["hook"]


@pytest.mark.parametrize("name", ["CRDServiceRequest2.json", "CRDServiceRequest4.json"])
def test_crd_examples_for_other_hooks_are_refused_with_a_400(client, examples_dir, name):
    req = load(examples_dir / "crd" / name)
    assert req["hook"] in ("order-dispatch", "appointment-book")
    issue = outcome(client.post(SIGN, json=req), 400)
    assert req["hook"] in issue["diagnostics"]


def test_the_pre_1_0_docs_example_is_read_through_context_medications_and_gets_no_pa(client, examples_dir):
    req = load(examples_dir / "cds-hooks-spec" / "order-sign-request-docs.json")
    assert "medications" in req["context"] and "draftOrders" not in req["context"]
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"http://fhir\.example\.com/Coverage\?.*"), json=coverage_bundle())
        body = ok(client.post(SIGN, json=req))
    assert body["cards"] == []
    [action] = body["systemActions"]
    assert action["resource"]["id"] == "medrx001"
    assert coverage_info(action)["pa-needed"] == ["no-auth"]


def test_a_context_with_neither_draft_orders_nor_medications_is_a_400_naming_draft_orders(client, examples_dir):
    req = load(examples_dir / "cds-hooks-spec" / "order-sign-request-docs.json")
    del req["context"]["medications"]
    assert outcome(client.post(SIGN, json=req), 400)["expression"] == ["context.draftOrders"]


# --- the official examples get a valid answer -------------------------------------------------

def test_the_spec_order_sign_example_gets_no_auth_for_its_non_oncology_drug(client, examples_dir):
    req = load(examples_dir / "cds-hooks-spec" / "order-sign-request.json")
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"https://ehr\.example\.org/fhir/Coverage\?.*"), json=coverage_bundle())
        body = ok(client.post(SIGN, json=req))
        assert "patient=1288992" in ehr.calls[0].request.url and "status=active" in ehr.calls[0].request.url
        assert "Authorization" not in ehr.calls[0].request.headers   # no fhirAuthorization was sent
    assert body["cards"] == []
    [action] = body["systemActions"]
    assert action["resource"]["id"] == "draft\u2011rx\u20111"
    info = coverage_info(action)
    assert info["covered"] == ["covered"] and info["pa-needed"] == ["no-auth"]
    assert info["coverage"] == [{"reference": "Coverage/cov-1"}]


def test_the_spec_order_select_example_advises_on_its_selection_only(client, examples_dir):
    req = load(examples_dir / "cds-hooks-spec" / "order-select-request-docs.json")
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"http://hooks\.smarthealthit\.org:9080/Coverage\?.*"), json=coverage_bundle())
        body = ok(client.post(SELECT, json=req), hook="order-select")
    assert [a["resource"]["id"] for a in body["systemActions"]] == ["example-MRI-59879846"]
    assert coverage_info(body["systemActions"][0])["pa-needed"] == ["no-auth"]


def test_the_crd_order_sign_example_uses_its_prefetched_coverage_and_fetches_nothing(client, examples_dir):
    req = load(examples_dir / "crd" / "CRDServiceRequest.json")
    with responses.RequestsMock():   # any outbound call would fail the coverage read
        body = ok(client.post(SIGN, json=req))
    drafts = [e["resource"] for e in req["context"]["draftOrders"]["entry"]]
    assert [a["resource"]["id"] for a in body["systemActions"]] == [d["id"] for d in drafts]
    cov_id = req["prefetch"]["coverage"]["entry"][0]["resource"]["id"]
    for action in body["systemActions"]:
        info = coverage_info(action)
        assert info["pa-needed"] == ["no-auth"]
        assert info["coverage"] == [{"reference": f"Coverage/{cov_id}"}]


def test_the_crd_example_without_prefetch_reads_coverage_with_the_hooks_access_token(client, examples_dir):
    req = load(examples_dir / "crd" / "CRDServiceRequest3.json")
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"http://example\.org/some-payer/fhir/crd/Coverage\?.*"), json=coverage_bundle("c9"))
        body = ok(client.post(SIGN, json=req))
        assert ehr.calls[0].request.headers["Authorization"] == "Bearer some-opaque-fhir-access-token"
    [action] = body["systemActions"]
    assert action["resource"]["resourceType"] == "CommunicationRequest"
    assert coverage_info(action)["coverage"] == [{"reference": "Coverage/c9"}]


def test_coverage_the_ehr_cannot_serve_makes_the_answer_indeterminate_with_a_technical_reason(client, examples_dir):
    req = load(examples_dir / "crd" / "CRDServiceRequest3.json")
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"http://example\.org/some-payer/fhir/crd/Coverage\?.*"), status=500)
        body = ok(client.post(SIGN, json=req))
    info = coverage_info(body["systemActions"][0])
    assert info["covered"] == ["indeterminate"]
    assert info["reason"][0]["coding"][0]["code"] == "technical" and "HTTP 500" in info["reason"][0]["text"]


def test_a_null_coverage_prefetch_means_no_active_coverage(client, thp):
    thp["prefetch"]["coverage"] = None
    body = ok(client.post(SIGN, json=thp))
    info = coverage_info(body["systemActions"][0])
    assert info["covered"] == ["not-covered"] and "pa-needed" not in info
    assert info["reason"][0]["coding"][0]["code"] == "no-active-coverage"


def test_an_mcode_patient_as_prefetch_is_reviewed_and_her_her2_negative_result_is_named(client):
    mcode = Path(__file__).resolve().parents[1].parent / "shared" / "examples" / "mcode-4.0.0"

    def r(name):
        return load(mcode / name)

    def searchset(*names):
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r(n)} for n in names]}

    def draft(id_, rx, text):
        return {"resourceType": "MedicationRequest", "id": id_, "status": "draft", "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                          "code": rx}], "text": text},
                "subject": {"reference": "Patient/cancer-patient-jenny-m"},
                "requester": {"reference": "Practitioner/us-core-practitioner-owen-oncologist"}}

    req = {"hook": "order-sign", "hookInstance": "jenny-m-1",
           "context": {"userId": "Practitioner/us-core-practitioner-owen-oncologist", "patientId": "cancer-patient-jenny-m",
                       "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [
                           {"resource": draft("doc", "72962", "docetaxel")},
                           {"resource": draft("tras", "224905", "trastuzumab")},
                           {"resource": draft("pert", "1298944", "pertuzumab")}]}},
           "prefetch": {"patient": r("Patient-cancer-patient-jenny-m.json"), "coverage": None,
                        "conditions": searchset("Condition-primary-cancer-condition-jenny-m.json",
                                                "Condition-us-core-condition-hypertension-jenny-m.json"),
                        "labs": searchset("Observation-tumor-marker-test-er-jenny-m.json",
                                          "Observation-tumor-marker-test-pr-jenny-m.json",
                                          "Observation-tumor-marker-test-her2-jenny-m.json"),
                        "assessments": searchset("Observation-ecog-performance-status-jenny-m.json",
                                                 "Observation-tnm-clinical-stage-group-jenny-m.json"),
                        "medications": None, "practitioner": None}}
    # Without a Coverage: one card that agrees with the not-covered systemActions, and no case.
    body = ok(client.post(SIGN, json=req))
    assert [c["source"]["topic"]["code"] for c in body["cards"]] == ["insurance"]
    assert body["cards"][0]["summary"].startswith("No active coverage on file: nothing was authorized.")
    assert "evaluated as a program member" not in json.dumps(body) and "Pended" not in json.dumps(body["cards"])
    assert client.application.extensions["oncopath.store"].counts()["cases"] == 0
    # With the program's Coverage: reviewed, and the HER2-negative result is named.
    thp = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "hooks" /
                      "order-sign-thp-her2-positive.json").read_text())
    req["prefetch"]["coverage"] = thp["prefetch"]["coverage"]
    req["hookInstance"] = "jenny-m-2"
    body = ok(client.post(SIGN, json=req))
    pended = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "coverage-info")
    assert "HER2" in pended["summary"] and "negative" in pended["summary"]
    assert pended["links"][0]["url"].startswith("https://oncopath.example.org/worksheets/ONC-")


# --- required data: the Patient ------------------------------------------------------------

def test_without_the_patient_and_without_a_fhir_server_the_answer_is_412(client, thp):
    del thp["prefetch"]["patient"]
    issue = outcome(client.post(SIGN, json=thp), 412)
    assert issue["code"] == "incomplete" and issue["expression"] == ["prefetch.patient"]
    assert "no fhirServer" in issue["diagnostics"]


def _with_ehr(req: dict) -> dict:
    req["fhirServer"] = EHR
    req["fhirAuthorization"] = {"access_token": "tok-123", "token_type": "Bearer", "expires_in": 30,
                                "scope": "user/Patient.read", "subject": "oncopath"}
    return req


@pytest.mark.parametrize("reply, words", [
    ({"status": 401}, "HTTP 401"),
    ({"status": 404}, "no such resource"),
    ({"body": requests.exceptions.ReadTimeout()}, "timeout"),
    ({"body": requests.exceptions.ConnectionError()}, "connection error"),
    ({"json": {"resourceType": "OperationOutcome", "issue": []}}, "OperationOutcome"),
], ids=["401", "404", "timeout", "unreachable", "operation-outcome"])
def test_a_patient_the_ehr_will_not_give_is_a_412(client, thp, reply, words):
    req = _with_ehr(thp)
    del req["prefetch"]["patient"]
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Patient/patient-1", **reply)
        issue = outcome(client.post(SIGN, json=req), 412)
    assert words in issue["diagnostics"]


def test_a_missing_patient_is_read_from_the_ehr_with_the_bearer_token(client, thp):
    patient = thp["prefetch"].pop("patient")
    req = _with_ehr(thp)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Patient/patient-1", json=patient)
        body = ok(client.post(SIGN, json=req))
        assert ehr.calls[0].request.headers["Authorization"] == "Bearer tok-123"
    assert coverage_info(body["systemActions"][0])["pa-needed"] == ["satisfied"]


def test_a_prefetch_the_ehr_failed_is_fetched_again(client, thp):
    patient = thp["prefetch"]["patient"]
    req = _with_ehr(thp)
    req["prefetch"]["patient"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Patient/patient-1", json=patient)
        ok(client.post(SIGN, json=req))
        assert len(ehr.calls) == 1


# --- optional data and pagination -----------------------------------------------------------

def _labs_pages(thp: dict, next_url: str) -> tuple[dict, dict]:
    labs = thp["prefetch"].pop("labs")["entry"]
    page1 = {"resourceType": "Bundle", "type": "searchset", "entry": labs[2:],
             "link": [{"relation": "self", "url": f"{EHR}/Observation?patient=patient-1&category=laboratory"},
                      {"relation": "next", "url": next_url}]}
    page2 = {"resourceType": "Bundle", "type": "searchset", "entry": labs[:2]}   # the HER2 results
    assert all("her2" in e["resource"]["id"] for e in labs[:2])
    return page1, page2


def test_a_missing_search_is_fetched_following_next_links_to_the_last_page(client, thp):
    page1, page2 = _labs_pages(thp, f"{EHR}/Observation?patient=patient-1&category=laboratory&_page=2")
    req = _with_ehr(thp)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Observation", json=page2, match=[responses.matchers.query_param_matcher(
            {"patient": "patient-1", "category": "laboratory", "_page": "2"})])
        ehr.get(f"{EHR}/Observation", json=page1, match=[responses.matchers.query_param_matcher(
            {"patient": "patient-1", "category": "laboratory"})])
        body = ok(client.post(SIGN, json=req))
        assert len(ehr.calls) == 2
        assert all(c.request.headers["Authorization"] == "Bearer tok-123" for c in ehr.calls)
    # HER2 was only on page 2: the regimen is authorized because page 2 was read
    assert coverage_info(body["systemActions"][1])["pa-needed"] == ["satisfied"]


def test_a_next_link_to_another_host_is_not_followed_and_the_gap_is_noted(client, thp):
    page1, _ = _labs_pages(thp, "https://elsewhere.example.com/Observation?page=2")
    req = _with_ehr(thp)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Observation", json=page1)
        body = ok(client.post(SIGN, json=req))
        assert len(ehr.calls) == 1   # the token never went to elsewhere.example.com
    pended = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "coverage-info")
    assert "**Not received from the EHR:** lab results (next link points outside fhirServer)" in pended["detail"]


def test_a_paginated_prefetch_is_completed_from_the_ehr(client, thp):
    page1, page2 = _labs_pages(thp, f"{EHR}/Observation?patient=patient-1&category=laboratory&_page=2")
    req = _with_ehr(thp)
    req["prefetch"]["labs"] = page1
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Observation", json=page2)
        body = ok(client.post(SIGN, json=req))
        assert len(ehr.calls) == 1
    assert coverage_info(body["systemActions"][1])["pa-needed"] == ["satisfied"]


def test_endless_pagination_stops_at_the_page_cap(client, thp):
    thp["prefetch"].pop("labs")
    req = _with_ehr(thp)
    endless = {"resourceType": "Bundle", "type": "searchset", "entry": [],
               "link": [{"relation": "next", "url": f"{EHR}/Observation?patient=patient-1&category=laboratory&_page=n"}]}
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Observation", json=endless)
        body = ok(client.post(SIGN, json=req))
        assert len(ehr.calls) == 5
    pended = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "coverage-info")
    assert "**Not received from the EHR:** lab results (more than 5 pages" in pended["detail"]


def test_optional_data_the_ehr_fails_to_give_is_noted_and_the_review_goes_on(client, thp):
    thp["prefetch"].pop("labs")
    req = _with_ehr(thp)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Observation", status=500)
        body = ok(client.post(SIGN, json=req))
    pended = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "coverage-info")
    assert "HER2" in pended["detail"]
    assert "**Not received from the EHR:** lab results (HTTP 500)" in pended["detail"]
    info = coverage_info(body["systemActions"][1])
    assert info["covered"] == ["conditional"] and info["info-needed"] == ["OTH"]


# --- CRD configuration ------------------------------------------------------------------------

def test_max_cards_keeps_the_most_important_cards(client, fixtures_dir):
    req = load(fixtures_dir / "hooks" / "order-sign-thp-her2-negative.json")
    req["extension"] = {"davinci-crd.configuration": {"max-cards": 1, "cost": False, "unknown-option": 7}}
    body = ok(client.post(SIGN, json=req))
    assert [c["source"]["topic"]["code"] for c in body["cards"]] == ["coverage-info"]


def test_a_card_type_switched_off_is_not_sent(client, thp):
    thp["extension"] = {"davinci-crd.configuration": {"guideline": False}}
    body = ok(client.post(SIGN, json=thp))
    assert body["cards"] == []
    assert coverage_info(body["systemActions"][0])["pa-needed"] == ["satisfied"]


def test_switching_coverage_info_off_drops_the_system_actions(client, thp):
    thp["extension"] = {"davinci-crd.configuration": {"coverage-info": False}}
    body = ok(client.post(SIGN, json=thp))
    assert body["systemActions"] == [] and body["cards"][0]["source"]["topic"]["code"] == "guideline"


# --- robustness: odd shapes are a 4xx or ignored, never a 500 ---------------------------------

@pytest.mark.parametrize("mutate", [
    lambda r: r["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"].update(coding=True),
    lambda r: r["context"]["draftOrders"]["entry"][0]["resource"].update(extension={"not": "a list"}),
    lambda r: r["context"]["draftOrders"]["entry"][0]["resource"].update(contained=7,
                                                                       medicationReference={"reference": "#m"}),
    lambda r: r["prefetch"]["coverage"].update(entry=-5),
    lambda r: r["prefetch"]["coverage"].update(link="next"),
    lambda r: r["prefetch"]["patient"].update(id=[{"resource": None}]),
    lambda r: r["prefetch"].update(labs={"no": "resourceType"}),
], ids=["coding-not-a-list", "extension-not-a-list", "contained-not-a-list", "entry-not-a-list",
        "link-not-a-list", "id-not-a-string", "prefetch-without-resourceType"])
def test_odd_shapes_in_a_request_are_a_client_error_or_ignored_never_a_500(client, thp, mutate):
    mutate(thp)
    resp = client.post(SIGN, json=thp)
    assert resp.status_code in (200, 400, 422), resp.get_json()
    if resp.status_code == 200:
        assert response_problems(resp.get_json()) == []
    else:
        assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_context_values_are_url_encoded_in_the_queries_made_to_the_ehr(client, thp):
    req = _with_ehr(thp)
    req["context"]["patientId"] = "p1&_include=*"
    del req["prefetch"]["patient"]
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"https://ehr\.example\.org/fhir/Patient/.*"), status=404)
        outcome(client.post(SIGN, json=req), 412)
        assert ehr.calls[0].request.url == f"{EHR}/Patient/p1%26_include%3D%2A"


def test_prefetch_keys_the_service_did_not_ask_for_are_ignored_and_legacy_wrappers_unwrapped(client, thp):
    req = thp
    req["prefetch"]["somethingElse"] = "not a resource at all"   # not ours: ignored, not refused
    req["prefetch"]["patient"] = {"response": {"status": "200 OK"}, "resource": req["prefetch"]["patient"]}
    with responses.RequestsMock():   # the unwrapped patient is used: nothing is fetched
        body = ok(client.post(SIGN, json=req))
    assert body["cards"][0]["summary"].startswith("Authorized: Order ID ONC-")
    assert {coverage_info(a)["pa-needed"][0] for a in body["systemActions"]} == {"satisfied"}


def test_a_draft_medication_request_naming_no_medication_gets_no_coverage_action(client, examples_dir):
    req = load(examples_dir / "cds-hooks-spec" / "order-sign-request.json")
    blank = dict(req["context"]["draftOrders"]["entry"][0]["resource"], id="blank-rx")
    blank.pop("medicationCodeableConcept")
    req["context"]["draftOrders"]["entry"].append({"resource": blank})
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"https://ehr\.example\.org/fhir/Coverage\?.*"), json=coverage_bundle())
        body = ok(client.post(SIGN, json=req))
    assert [a["resource"]["id"] for a in body["systemActions"]] == ["draft\u2011rx\u20111"]

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
