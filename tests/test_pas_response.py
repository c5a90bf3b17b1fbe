"""Decision ⇒ PAS response Bundle (mappings/pas_response.py), without the engine."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from mappings.pas_response import claim_response_outcome, render_claim_response_bundle
from server.domain.decision import (
    Alternative, CaseStatus, Decision, DrugDecision, DrugStatus, PathwayMatch, Reason, SCode, TraceStep,
)
from test_pas_submit import PAS_EXAMPLES, claim_response, item_extension, load_fixture, review_action

CREATED = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
ORDER_ID = "ONC-ABCDEFGH23"


def drug(seq, key, status, **kw) -> DrugDecision:
    return DrugDecision(ref=f"item/{seq}", drug_key=key, display=key, status=status, **kw)


def decision(*drugs, status=CaseStatus.AUTHORIZED, **kw) -> Decision:
    return Decision(case_status=status, drugs=tuple(drugs), kb_version="kb-1", in_program=kw.pop("in_program", True),
                    trace=(TraceStep("R3", "x"),), **kw)


THP_AUTHORIZED = decision(
    drug(1, "docetaxel", DrugStatus.AUTHORIZED, hcpcs="J9171", billing_units=140.0, visits=6,
         authorized_from=date(2026, 12, 1), authorized_to=date(2027, 3, 15),
         reasons=(Reason("policy-met", "docetaxel: meets medical policy", "R3"),)),
    drug(2, "trastuzumab", DrugStatus.AUTHORIZED, hcpcs="J9355", billing_units=48.0, visits=9,
         authorized_from=date(2026, 12, 1), authorized_to=date(2027, 5, 31)),
    drug(3, "pertuzumab", DrugStatus.IN_PROGRESS, reasons=(Reason("dose", "dose outside the set range"),)),
    pathway=PathwayMatch("breast-her2pos-metastatic-1l", "HER2+ metastatic breast, first line", "thp", "THP",
                         "kb-1", "PE-12345"),
    s_codes=(SCode("S0353", date(2026, 12, 1), date(2026, 12, 1), 1, "once, at the onset of THP"),),
    pend_reasons=(Reason("dose", "pertuzumab dose outside the set range"),),
    due_by=datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc),
)


def render(dec, bundle=None, **kw):
    return render_claim_response_bundle(dec, ORDER_ID, bundle or load_fixture("thp-her2-positive"),
                                        created=CREATED, **kw)


def test_the_claim_response_comes_first_with_the_request_patient_insurer_and_requestor():
    request = load_fixture("thp-her2-positive")
    body = render(THP_AUTHORIZED, request)
    cr = claim_response(body)
    assert body["type"] == "collection" and body["identifier"] == request["identifier"]
    assert body["timestamp"] == CREATED.isoformat()
    assert (cr["resourceType"], cr["status"], cr["use"]) == ("ClaimResponse", "active", "preauthorization")
    assert cr["request"] == {"reference": "http://clinic.example.org/fhir/Claim/onc-thp-her2pos",
                             "identifier": request["entry"][0]["resource"]["identifier"][0]}
    assert cr["patient"] == {"reference": "Patient/onc-patient"}
    assert cr["requestor"] == {"reference": "Organization/onc-clinic"}
    assert cr["created"] == CREATED.isoformat()
    assert [e["resource"]["id"] for e in body["entry"][1:]] == ["onc-patient", "onc-insurer", "onc-clinic"]


def test_authorized_items_carry_a1_the_order_id_the_period_and_the_billing_units():
    cr = claim_response(render(THP_AUTHORIZED))
    trastuzumab = cr["item"][1]
    assert trastuzumab["itemSequence"] == 2
    assert review_action(trastuzumab) == ("A1", ORDER_ID)
    assert item_extension(trastuzumab, "itemPreAuthIssueDate")["valueDate"] == "2026-11-20"
    assert item_extension(trastuzumab, "itemPreAuthPeriod")["valuePeriod"] == {"start": "2026-12-01", "end": "2027-05-31"}
    detail = {e["url"]: e for e in item_extension(trastuzumab, "itemAuthorizedDetail")["extension"]}
    assert detail["productOrServiceCode"]["valueCodeableConcept"]["coding"][0]["code"] == "J9355"
    assert detail["quantity"]["valueQuantity"] == {"value": 48.0}
    assert cr["preAuthRef"] == ORDER_ID
    assert cr["preAuthPeriod"] == {"start": "2026-12-01", "end": "2027-05-31"}


def test_a_pended_item_carries_a4_and_the_administration_reference_number():
    pertuzumab = claim_response(render(THP_AUTHORIZED))["item"][2]
    assert review_action(pertuzumab) == ("A4", ORDER_ID)
    assert item_extension(pertuzumab, "administrationReferenceNumber")["valueString"] == ORDER_ID
    assert item_extension(pertuzumab, "itemPreAuthPeriod") is None


def test_process_notes_give_the_pathway_eligible_id_s_codes_reasons_and_due_date():
    cr = claim_response(render(THP_AUTHORIZED))
    texts = [n["text"] for n in cr["processNote"]]
    assert texts[0] == f"Order ID {ORDER_ID}: case status Authorized."
    assert any("Pathway Eligible ID: PE-12345" in t for t in texts)
    assert any(t.startswith("S0353 billable from 2026-12-01 to 2026-12-01, at most 1 unit(s)") for t in texts)
    assert any("Pended for clinical review: pertuzumab dose outside the set range" in t
               and "2026-11-25" in t for t in texts)
    numbers = {n["number"] for n in cr["processNote"]}
    for item in cr["item"]:
        assert set(item["noteNumber"]) <= numbers and item["noteNumber"]
    assert all(n["type"] == "display" for n in cr["processNote"])


def test_oral_drugs_answer_na_with_who_to_contact_and_cancelled_ones_c():
    dec = decision(
        drug(1, "palbociclib", DrugStatus.OTHER_IMPACT, contact="CarelonRx (pharmacy benefit manager)"),
        drug(2, "letrozole", DrugStatus.VOLUNTARILY_CANCELLED),
        status=CaseStatus.COMPLETED)
    body = render(dec, load_fixture("palbociclib-letrozole-oral"))
    cr = claim_response(body)
    assert [review_action(i)[0] for i in cr["item"]] == ["NA", "C"]
    assert cr["outcome"] == "complete"
    assert "preAuthRef" not in cr
    palbo_note = next(n["text"] for n in cr["processNote"] if n["text"].startswith("palbociclib"))
    assert "Other Impact" in palbo_note and "CarelonRx" in palbo_note


def test_lines_the_engine_did_not_decide_are_na_and_name_the_health_plan():
    request = json.loads((PAS_EXAMPLES / "Bundle-ReferralAuthorizationBundleExample.json").read_text())
    dec = decision(status=CaseStatus.COMPLETED, in_program=False,
                   program_reason=Reason("not-oncology", "diagnosis is not oncology", "R12"))
    cr = claim_response(render(dec, request))
    assert [review_action(i)[0] for i in cr["item"]] == ["NA"]
    assert any("health plan" in n["text"] for n in cr["processNote"])
    assert not any("pathway" in n["text"].lower() for n in cr["processNote"])


def test_an_off_pathway_regimen_lists_the_on_pathway_alternatives():
    dec = decision(drug(1, "trastuzumab", DrugStatus.AUTHORIZED, managed=True), alternatives=(
        Alternative("breast-her2pos-metastatic-1l", "thp", "THP", ("docetaxel", "trastuzumab", "pertuzumab")),))
    texts = [n["text"] for n in claim_response(render(dec))["processNote"]]
    assert any(t.startswith("Not pathway-eligible") for t in texts)
    assert "On-pathway alternatives: THP (docetaxel, trastuzumab, pertuzumab)." in texts


@pytest.mark.parametrize("actions,outcome", [
    (["A1", "A1"], "complete"), (["A4"], "complete"), (["A4", "A4"], "complete"),
    (["A1", "A4"], "partial"), (["NA", "A4"], "partial"), (["C", "NA"], "complete"),
])
def test_outcome_is_partial_only_when_pended_and_decided_items_are_mixed_and_never_queued(actions, outcome):
    assert claim_response_outcome(actions) == outcome


def test_the_response_has_the_shape_of_the_official_pas_example_and_is_valid_r4b():
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.claimresponse import ClaimResponse

    official = json.loads((PAS_EXAMPLES / "Bundle-ReferralAuthorizationResponseBundleExample.json").read_text())
    official_item = official["entry"][0]["resource"]["item"][0]
    ours = render(THP_AUTHORIZED)
    our_item = claim_response(ours)["item"][1]
    assert official_item["adjudication"][0]["category"] == our_item["adjudication"][0]["category"]
    official_urls = {e["url"] for e in official_item["adjudication"][0]["extension"][0]["extension"]}
    our_urls = {e["url"] for e in our_item["adjudication"][0]["extension"][0]["extension"]}
    assert official_urls == our_urls
    assert {e["url"] for e in our_item["extension"]} <= {e["url"] for e in official_item["extension"]}
    ClaimResponse.model_validate(claim_response(ours))
    Bundle.model_validate(ours)

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
