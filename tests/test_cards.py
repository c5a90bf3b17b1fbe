"""Cards and coverage-information from hand-built Decisions (pure functions, no app)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from cards import RenderContext, render, render_unmanaged
from cards.context import ServiceInfo
from cards.codes import COVERAGE_INFORMATION_URL, CRD_TEMP_SYSTEM, RXNORM
from mappings.crd_checks import coverage_information_problems, response_problems
from server.domain.decision import (Alternative, Benefit, CaseStatus, Decision, Deviation, DeviationKind,
                                    DrugDecision, DrugStatus, PathwayMatch, Reason, Severity)
from server.domain.order import LineOfTherapy, Setting
from server.hooks.request import CrdConfiguration
from server.knowledge.model import (CancerType, Drug, DrugCategory, FnRisk, HcpcsCode, Knowledge, Pathway,
                                    Regimen, RegimenDrug, build_indexes)

ORDER_ID = "ONC-TEST000001"


def _drug(key, rx, hcpcs, category=DrugCategory.CHEMOTHERAPY):
    return Drug(key=key, name=key.capitalize(), category=category, benefit=Benefit.MEDICAL, rxnorm=(rx,),
                hcpcs=(HcpcsCode(hcpcs, 1, "mg"),))


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    drugs = {d.key: d for d in (
        _drug("docetaxel", "72962", "J9171"), _drug("trastuzumab", "224905", "J9355", DrugCategory.TARGETED),
        _drug("pertuzumab", "1298944", "J9306", DrugCategory.TARGETED), _drug("carboplatin", "40048", "J9045"),
        _drug("paclitaxel", "56946", "J9267"),
        _drug("pegfilgrastim", "338036", "J2506", DrugCategory.SUPPORTIVE))}
    thp = Regimen("breast-her2-met-thp", "THP (docetaxel, trastuzumab, pertuzumab)", (
        RegimenDrug("docetaxel", 21, (1,), 6, dose=75, dose_unit="mg/m2"),
        RegimenDrug("trastuzumab", 21, (1,), until_progression=True, dose=6, dose_unit="mg/kg"),
        RegimenDrug("pertuzumab", 21, (1,), until_progression=True, dose=420, dose_unit="mg")),
        FnRisk.HIGH, fixed_duration=False, cycle_length_days=21)
    pathway = Pathway("breast-her2pos-metastatic-1l", "HER2-positive metastatic breast cancer, first line",
                      "breast", (Setting.METASTATIC,), (LineOfTherapy.FIRST,), (), (), (thp,), date(2025, 1, 1))
    return build_indexes(Knowledge(version="test-1", effective=date(2025, 1, 1), reviewed=date(2025, 10, 1),
                                   drugs=drugs, policies={},
                                   cancer_types={"breast": CancerType("breast", "Breast cancer", ("C50",))},
                                   pathways=(pathway,)))


def _mr(id_, rx, text):
    return {"resourceType": "MedicationRequest", "id": id_, "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rx}], "text": text},
            "subject": {"reference": "Patient/p1"}, "requester": {"reference": "Practitioner/dr"},
            "extension": [{"url": "http://example.org/keep-me", "valueString": "unchanged"}]}


DRAFTS = [_mr("docetaxel", "72962", "docetaxel 75 mg/m2"), _mr("trastuzumab", "224905", "trastuzumab 6 mg/kg"),
          _mr("pertuzumab", "1298944", "pertuzumab 420 mg"), _mr("peg", "338036", "pegfilgrastim 6 mg")]
KEYS = {"docetaxel": "docetaxel", "trastuzumab": "trastuzumab", "pertuzumab": "pertuzumab", "peg": "pegfilgrastim"}
HCPCS = {"docetaxel": "J9171", "trastuzumab": "J9355", "pertuzumab": "J9306", "pegfilgrastim": "J2506"}


def _ctx(kb, hook="order-sign", order_id=ORDER_ID, targets=None, **kw) -> RenderContext:
    kw.setdefault("coverage_ref", {"reference": "Coverage/cov-1"})
    return RenderContext(hook=hook, hook_instance="hi-1", payer_name="Summit Health Plan", draft_orders=DRAFTS,
                         targets=targets if targets is not None else DRAFTS, today=date(2026, 11, 22),
                         order_id=order_id, knowledge=kb,
                         worksheet_url=lambda ct: f"https://oncopath.example.org/fhir/Questionnaire/oncopath-worksheet-{ct}",
                         service=ServiceInfo(base_url="https://oncopath.example.org", link_key="k"), **kw)


def _drugs(status, reasons=()):
    out = []
    for ref_id, key in KEYS.items():
        out.append(DrugDecision(ref=f"MedicationRequest/{ref_id}", drug_key=key, display=key, status=status,
                                reasons=tuple(reasons), managed=True, benefit=Benefit.MEDICAL, hcpcs=HCPCS[key],
                                billing_units=42.0 if status is DrugStatus.AUTHORIZED else None,
                                authorized_from=date(2026, 12, 1) if status is DrugStatus.AUTHORIZED else None,
                                authorized_to=date(2027, 5, 31) if status is DrugStatus.AUTHORIZED else None))
    return tuple(out)


def _decision(status=CaseStatus.AUTHORIZED, drug_status=DrugStatus.AUTHORIZED, on_pathway=True, **kw) -> Decision:
    pathway = PathwayMatch("breast-her2pos-metastatic-1l", "HER2-positive metastatic breast cancer, first line",
                           "breast-her2-met-thp", "THP (docetaxel, trastuzumab, pertuzumab)", "test-1",
                           "PE-123" if on_pathway else None) if kw.pop("matched", True) else None
    return Decision(case_status=status, drugs=kw.pop("drugs", _drugs(drug_status)), kb_version="test-1",
                    in_program=kw.pop("in_program", True), trace=(), cancer_type="breast", pathway=pathway, **kw)


def _coverage_info(action) -> dict[str, list]:
    ext = next(e for e in action["resource"]["extension"] if e["url"] == COVERAGE_INFORMATION_URL)
    out: dict[str, list] = {}
    for sub in ext["extension"]:
        out.setdefault(sub["url"], []).append(next(v for k, v in sub.items() if k.startswith("value"))
                                              if sub["url"] != "detail" else sub)
    return out


def test_an_authorized_on_pathway_regimen_gets_an_info_card_and_satisfied_pa_with_the_order_id(kb):
    body = render(_decision(), _ctx(kb))
    assert response_problems(body, hook="order-sign") == []
    [card] = body["cards"]
    assert card["indicator"] == "info"
    assert card["summary"] == f"Authorized: Order ID {ORDER_ID}. THP (docetaxel, trastuzumab, pertuzumab) is on pathway."
    assert card["source"]["label"] == "Summit Health Plan"
    assert card["source"]["url"] == f"https://oncopath.example.org/portal/status?order_id={ORDER_ID}"
    assert card["source"]["topic"]["code"] == "guideline"
    assert "PE-123" in card["detail"] and "docetaxel 75 mg/m2" in card["detail"]
    assert "MedicationRequest/" not in card["detail"]
    refs = [a["reference"] for a in card["extension"]["davinci-crd.associated-resource"]]
    assert refs == [f"MedicationRequest/{i}" for i in KEYS]
    assert len(body["systemActions"]) == 4
    for action, key in zip(body["systemActions"], KEYS.values()):
        info = _coverage_info(action)
        assert info["covered"] == ["covered"] and info["pa-needed"] == ["satisfied"]
        assert info["satisfied-pa-id"] == [ORDER_ID]
        assert info["billingCode"][0]["code"] == HCPCS[key]
        assert info["coverage"] == [{"reference": "Coverage/cov-1"}]
        assert info["expiry-date"] == ["2027-05-31"]
        assert action["type"] == "update" and action["description"]


def test_the_system_action_carries_the_whole_draft_order_unchanged_apart_from_the_extension(kb):
    body = render(_decision(), _ctx(kb))
    resource = body["systemActions"][0]["resource"]
    original = DRAFTS[0]
    assert {k: v for k, v in resource.items() if k != "extension"} == {k: v for k, v in original.items() if k != "extension"}
    assert resource["extension"][0] == original["extension"][0]
    assert len(original["extension"]) == 1, "the draft sent by the EHR must not be mutated"


def test_without_an_order_id_an_authorizable_drug_is_auth_needed_not_satisfied(kb):
    body = render(_decision(), _ctx(kb, hook="order-select", order_id=None, targets=DRAFTS[1:2]))
    assert response_problems(body, hook="order-select") == []
    [action] = body["systemActions"]
    assert action["resource"]["id"] == "trastuzumab"
    info = _coverage_info(action)
    assert info["pa-needed"] == ["auth-needed"] and "satisfied-pa-id" not in info
    assert body["cards"][0]["summary"] == \
        "Meets policy and pathway: THP (docetaxel, trastuzumab, pertuzumab) is authorized when signed."
    assert [a["reference"] for a in body["cards"][0]["extension"]["davinci-crd.associated-resource"]] == \
        ["MedicationRequest/trastuzumab"]


def test_an_off_pathway_regimen_gets_a_warning_with_the_pathway_regimen_as_a_delete_and_create_suggestion(kb):
    alt = Alternative("breast-her2pos-metastatic-1l", "breast-her2-met-thp", "THP (docetaxel, trastuzumab, pertuzumab)",
                      ("docetaxel", "trastuzumab", "pertuzumab"))
    decision = _decision(on_pathway=False, matched=False, alternatives=(alt,), deviations=(
        Deviation(DeviationKind.CUSTOM_TREATMENT_PLAN, Severity.PEND, "no pathway regimen matches"),),
        status=CaseStatus.IN_PROGRESS, drug_status=DrugStatus.IN_PROGRESS)
    body = render(decision, _ctx(kb))
    assert response_problems(body) == []
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "off-guideline")
    assert card["indicator"] == "warning"
    assert card["selectionBehavior"] == "at-most-one"
    [suggestion] = card["suggestions"]
    assert suggestion["uuid"] and suggestion["isRecommended"] is True
    deletes = [a["resourceId"] for a in suggestion["actions"] if a["type"] == "delete"]
    assert deletes == ["MedicationRequest/docetaxel", "MedicationRequest/trastuzumab", "MedicationRequest/pertuzumab"]
    creates = [a["resource"] for a in suggestion["actions"] if a["type"] == "create"]
    assert [c["medicationCodeableConcept"]["coding"][0]["code"] for c in creates] == ["72962", "224905", "1298944"]
    assert all(c["status"] == "draft" and c["subject"] == {"reference": "Patient/p1"} for c in creates)
    assert creates[0]["dosageInstruction"][0]["text"] == "75 mg/m2, day 1 of a 21-day cycle, 6 cycles"
    assert card["overrideReasons"][0]["display"]


def test_an_alternative_whose_criteria_are_not_yet_met_is_offered_but_not_recommended(kb):
    alt = Alternative("breast-her2pos-metastatic-1l", "breast-her2-met-thp", "THP (docetaxel, trastuzumab, pertuzumab)",
                      ("docetaxel", "trastuzumab", "pertuzumab"), precision=False, criteria_met=False)
    decision = _decision(on_pathway=False, matched=False, alternatives=(alt,), deviations=(
        Deviation(DeviationKind.CUSTOM_TREATMENT_PLAN, Severity.PEND, "no pathway regimen matches"),),
        status=CaseStatus.IN_PROGRESS, drug_status=DrugStatus.IN_PROGRESS)
    body = render(decision, _ctx(kb))
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "off-guideline")
    [suggestion] = card["suggestions"]
    assert suggestion["isRecommended"] is False
    assert suggestion["label"] == "Switch to THP"
    assert "- THP (docetaxel, trastuzumab, pertuzumab) — if the clinical criteria are confirmed" in card["detail"]
    assert "eligibility" not in card["detail"]


def test_a_pended_regimen_names_what_is_missing_and_links_the_tumor_worksheet(kb):
    decision = _decision(status=CaseStatus.IN_PROGRESS, drug_status=DrugStatus.IN_PROGRESS, on_pathway=False,
                         deviations=(Deviation(DeviationKind.MISSING_BIOMARKER, Severity.PEND,
                                               "HER2 result not reported (required for trastuzumab)"),),
                         due_by=datetime(2026, 11, 25, 17, tzinfo=timezone.utc))
    body = render(decision, _ctx(kb))
    assert response_problems(body) == []
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "coverage-info")
    assert card["summary"] == f"Pended for review: HER2 result not reported (required for trastuzumab). Order ID {ORDER_ID}."
    [link] = card["links"]
    assert link["type"] == "absolute" and link["label"] == "Fill in the worksheet (breast cancer)"
    assert link["url"].startswith(f"https://oncopath.example.org/worksheets/{ORDER_ID}?t=")
    assert ORDER_ID in card["detail"] and "Wed 25 Nov 2026, 17:00 UTC" in card["detail"]
    assert "**Peer-to-peer:** call the oncology review line, 1-800-555-0134" in card["detail"]
    info = _coverage_info(body["systemActions"][1])
    assert info["covered"] == ["conditional"] and info["pa-needed"] == ["auth-needed"]
    assert info["info-needed"] == ["OTH"] and info["doc-needed"] == ["clinical"] and info["doc-purpose"] == ["withpa"]
    assert info["questionnaire"] == ["https://oncopath.example.org/fhir/Questionnaire/oncopath-worksheet-breast"]
    assert "HER2" in info["reason"][0]["text"]
    assert "satisfied-pa-id" not in info


def test_order_select_never_asks_for_clinical_documentation(kb):
    decision = _decision(status=CaseStatus.IN_PROGRESS, drug_status=DrugStatus.IN_PROGRESS, on_pathway=False,
                         deviations=(Deviation(DeviationKind.MISSING_STAGE, Severity.PEND, "stage not reported"),))
    body = render(decision, _ctx(kb, hook="order-select", order_id=None))
    assert response_problems(body, hook="order-select") == []
    info = _coverage_info(body["systemActions"][0])
    assert "doc-needed" not in info and "questionnaire" not in info
    assert info["info-needed"] == ["OTH"]


def test_a_growth_factor_fn_risk_deviation_gets_an_appropriate_use_card_on_the_growth_factor_only(kb):
    decision = _decision(deviations=(Deviation(DeviationKind.FN_RISK, Severity.PEND,
                                               "regimen FN risk low: G-CSF primary prophylaxis not indicated",
                                               drug_key="pegfilgrastim", rule="R6"),))
    body = render(decision, _ctx(kb))
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "appropriate-use")
    assert card["extension"]["davinci-crd.associated-resource"] == [{"reference": "MedicationRequest/peg"}]
    assert card["summary"] == "Pegfilgrastim: regimen FN risk low: G-CSF primary prophylaxis not indicated."


def test_a_duplicate_order_gets_a_duplicate_therapy_card_right_after_the_status_card(kb):
    decision = _decision(duplicate_of="ONC-EARLIER0001", notices=(Reason("duplicate-order", "THP on file", "R8"),))
    body = render(decision, _ctx(kb))
    assert [c["source"]["topic"]["code"] for c in body["cards"]][:2] == ["guideline", "duplicate-therapy"]
    assert body["cards"][1]["summary"] == \
        "Possible duplicate: Order ID ONC-EARLIER0001 is on file for the same drugs and dates."


def test_a_member_outside_the_program_gets_an_insurance_card_and_a_not_in_program_reason(kb):
    decision = _decision(in_program=False, matched=False, drug_status=DrugStatus.REFER_TO_HEALTH_PLAN,
                         program_reason=Reason("member-not-in-program", "Commercial PPO member: contact the health plan"))
    body = render(decision, _ctx(kb))
    assert response_problems(body) == []
    assert [c["source"]["topic"]["code"] for c in body["cards"]] == ["insurance"]
    info = _coverage_info(body["systemActions"][0])
    assert info["reason"][0]["coding"][0]["code"] == "not-in-program"
    assert "Commercial PPO" in info["reason"][0]["text"]
    assert info["pa-needed"] == ["no-auth"]


def test_no_active_coverage_is_not_covered_with_crds_reason_and_no_pa_needed(kb):
    body = render(_decision(), _ctx(kb, coverage_state="none", coverage_ref=None))
    assert response_problems(body) == []
    info = _coverage_info(body["systemActions"][0])
    assert info["covered"] == ["not-covered"] and "pa-needed" not in info
    assert info["reason"][0]["coding"] == [{"system": CRD_TEMP_SYSTEM, "code": "no-active-coverage"}]


def test_coverage_that_could_not_be_read_is_indeterminate_with_a_technical_reason(kb):
    body = render(_decision(), _ctx(kb, coverage_state="unavailable", coverage_problem="timeout"))
    info = _coverage_info(body["systemActions"][0])
    assert info["covered"] == ["indeterminate"] and info["reason"][0]["coding"][0]["code"] == "technical"
    assert "timeout" in info["reason"][0]["text"]
    assert response_problems(body) == []


def test_orders_the_program_does_not_manage_are_no_auth_without_cards(kb):
    other = {"resourceType": "ServiceRequest", "id": "sr1", "status": "draft", "intent": "order",
             "code": {"text": "MRI knee"}, "subject": {"reference": "Patient/p1"}}
    ctx = _ctx(kb, order_id=None, targets=[other])
    body = render_unmanaged(ctx)
    assert body["cards"] == []
    info = _coverage_info(body["systemActions"][0])
    assert info["covered"] == ["covered"] and info["pa-needed"] == ["no-auth"]
    assert response_problems(body) == []


def test_max_cards_and_switched_off_card_types_are_obeyed(kb):
    decision = _decision(duplicate_of="ONC-EARLIER0001", deviations=(
        Deviation(DeviationKind.FN_RISK, Severity.PEND, "low FN risk", drug_key="pegfilgrastim"),))
    all_cards = render(decision, _ctx(kb))["cards"]
    assert [c["source"]["topic"]["code"] for c in all_cards] == ["guideline", "duplicate-therapy", "appropriate-use"]
    capped = render(decision, _ctx(kb, configuration=CrdConfiguration(max_cards=1)))
    assert [c["source"]["topic"]["code"] for c in capped["cards"]] == ["guideline"]
    off = render(decision, _ctx(kb, configuration=CrdConfiguration(frozenset({"guideline", "coverage-info"}))))
    assert "guideline" not in [c["source"]["topic"]["code"] for c in off["cards"]]
    assert off["systemActions"] == []


def test_summaries_stay_under_140_characters_even_for_long_reasons(kb):
    decision = _decision(status=CaseStatus.IN_PROGRESS, drug_status=DrugStatus.IN_PROGRESS, on_pathway=False,
                         deviations=tuple(Deviation(DeviationKind.MISSING_BIOMARKER, Severity.PEND, "x" * 200 + str(i))
                                          for i in range(3)))
    card = render(decision, _ctx(kb))["cards"][0]
    assert card["summary"] == f"Pended for review: Order ID {ORDER_ID}."
    assert "xxxx" in card["detail"], "the reasons that do not fit a summary are in the detail"


@pytest.mark.parametrize("mutation, problem", [
    (lambda s: [x for x in s if x["url"] != "satisfied-pa-id"], "q5"),
    (lambda s: s + [{"url": "info-needed", "valueCode": "OTH"}], "q6"),
    (lambda s: [x if x["url"] != "covered" else {"url": "covered", "valueCode": "not-covered"} for x in s], "q2"),
    (lambda s: s + [{"url": "doc-purpose", "valueCode": "withpa"}], "q4"),
    (lambda s: s + [{"url": "questionnaire", "valueCanonical": "http://x/Q"}], "q1"),
    (lambda s: [x for x in s if x["url"] != "date"], "date"),
])
def test_the_invariant_checker_catches_each_broken_rule(kb, mutation, problem):
    action = render(_decision(), _ctx(kb))["systemActions"][0]
    ext = next(e for e in action["resource"]["extension"] if e["url"] == COVERAGE_INFORMATION_URL)
    broken = {"url": ext["url"], "extension": mutation(list(ext["extension"]))}
    assert coverage_information_problems(ext) == []
    assert any(problem in p for p in coverage_information_problems(broken))


def test_order_select_on_a_drug_outside_the_regimen_gets_no_regimen_cards(kb):
    other = {"resourceType": "MedicationRequest", "id": "amox", "status": "draft", "intent": "order",
             "medicationCodeableConcept": {"text": "amoxicillin"}, "subject": {"reference": "Patient/p1"}}
    body = render(_decision(), _ctx(kb, hook="order-select", order_id=None, targets=[other]))
    assert body["cards"] == []
    assert [a["resource"]["id"] for a in body["systemActions"]] == ["amox"]
    assert _coverage_info(body["systemActions"][0])["pa-needed"] == ["no-auth"]


def test_order_select_says_a_regimen_would_pend_and_gives_no_order_id_or_due_date(kb):
    decision = _decision(status=CaseStatus.IN_PROGRESS, drug_status=DrugStatus.IN_PROGRESS, on_pathway=False,
                         deviations=(Deviation(DeviationKind.MISSING_BIOMARKER, Severity.PEND,
                                               "HER2 result not reported (required for trastuzumab)"),),
                         due_by=datetime(2026, 11, 25, 17, tzinfo=timezone.utc))
    body = render(decision, _ctx(kb, hook="order-select", order_id=None))
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "coverage-info")
    assert card["summary"] == "Would be pended for review: HER2 result not reported (required for trastuzumab)."
    assert "links" not in card, "no case yet: no worksheet form to fill in"
    assert "due by" not in card["detail"] and "Order ID" not in card["detail"]


def test_text_after_a_list_in_a_card_detail_is_its_own_paragraph(kb):
    decision = _decision(status=CaseStatus.IN_PROGRESS, drug_status=DrugStatus.IN_PROGRESS, on_pathway=False,
                         deviations=(Deviation(DeviationKind.MISSING_BIOMARKER, Severity.PEND,
                                               "HER2 result not reported (required for trastuzumab)"),),
                         due_by=datetime(2026, 11, 25, 17, tzinfo=timezone.utc))
    detail = next(c for c in render(decision, _ctx(kb))["cards"]
                  if c["source"]["topic"]["code"] == "coverage-info")["detail"]
    assert "- HER2 result not reported (required for trastuzumab).\n\n**What to send:**" in detail


def test_dosage_text_is_compact_for_long_runs_of_days():
    from cards.cards import dosage_text

    daily = RegimenDrug("palbociclib", 28, tuple(range(1, 22)), until_progression=True, dose=125, dose_unit="mg")
    assert dosage_text(daily) == "125 mg, days 1–21 of a 28-day cycle, until progression"
    weekly = RegimenDrug("paclitaxel", 28, (1, 8, 15), 6, dose=80, dose_unit="mg/m2")
    assert dosage_text(weekly) == "80 mg/m2, days 1, 8 and 15 of a 28-day cycle, 6 cycles"
    assert dosage_text(RegimenDrug("docetaxel", 21, (1,), 6, dose=75, dose_unit="mg/m2")) == \
        "75 mg/m2, day 1 of a 21-day cycle, 6 cycles"


def test_the_wording_layer_falls_back_to_clean_words_for_a_text_it_does_not_know(kb):
    from cards.wording import clean, words

    assert words("PDL1_CPS positive >= 10 required (R3)") == "PD-L1 CPS positive ≥ 10 required."
    assert "MedicationRequest/" not in clean("see MedicationRequest/request-123")
    assert clean("trastuzumab requires HER2 positive — or — HER2 low") == "trastuzumab requires HER2 positive"

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
