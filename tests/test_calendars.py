"""Regimen schedules as administration calendars (issue 13): orders are expanded from FHIR
Timing as the specification defines it and compared with the knowledge base's phases,
labelled alternatives and cycle overrides, calendar against calendar."""
from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mappings.medication import drug_line
from mappings import order_from_bundle
from mappings.pas_claim import order_from_pas_bundle
from mappings.pas_response import render_claim_response_bundle
from server.domain.decision import CaseStatus, DeviationKind, Severity
from server.domain.order import (
    Biomarker, BiomarkerResult, Code, Diagnosis, DrugLine, LineOfBusiness, LineOfTherapy, Member,
    Order, Provider, ProviderKind, Setting,
)
from server.engine import decide
from server.engine.explain import explain
from kbfakes import as_if_verified
from server.knowledge.loader import load_knowledge
from server.knowledge.model import HCPCS, ICD10CM, RXNORM

# calendars are tested on the bundled regimens as if their sources were primary: what is checked
# here is the schedule, not the verification (tests/test_knowledge_verification.py)
KB = as_if_verified(load_knowledge())
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECEIVED = datetime(2026, 11, 16, 14, 0, tzinfo=timezone.utc)
START = date(2026, 12, 1)
DOC = "http://hl7.org/fhir/us/codex-ocpa/StructureDefinition/regimen-days-of-cycle"
ICD = {"breast": "C50.912", "colorectal": "C18.7", "melanoma": "C43.9", "myeloma": "C90.00", "nsclc": "C34.11",
       "pancreatic": "C25.0", "dlbcl": "C83.38"}   # as in test_engine_scenarios
# myeloid group (issue 14), each checked with simple_icd_10_cm
ICD.update({"aml": "C92.00", "all": "C91.02", "cml": "C92.10", "mds": "D46.21"})
# every other cancer type: a billable code of its own family, from the CMS tabular list
# (simple-icd-10-cm, as the generated scenarios pick it)
from scenarios.generate import _diagnosis_codes  # noqa: E402

for _key, _code in _diagnosis_codes().items():
    ICD.setdefault(_key, _code)
SCHEDULE_KINDS = {DeviationKind.CYCLE_LENGTH, DeviationKind.CYCLE_COUNT, DeviationKind.ADMINISTRATION_DAYS,
                  DeviationKind.FREQUENCY}


# ------------------------------------------------------------------------------ builders
def dosage(dose: float, unit: str, *, days=None, seq=None, start: date | None = START, event=None, **repeat) -> dict:
    d: dict = {"doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit, "system": "http://unitsofmeasure.org",
                                                 "code": unit}}]}
    timing: dict = {}
    if event is not None:
        timing["event"] = [e.isoformat() for e in event]
    if repeat or start is not None:
        r = dict(repeat)
        if start is not None:
            r["boundsPeriod"] = {"start": start.isoformat()}
        timing["repeat"] = r
    if days is not None:
        timing["extension"] = [{"url": DOC, "extension": [{"url": "day", "valueInteger": x} for x in days]}]
    d["timing"] = timing
    if seq is not None:
        d["sequence"] = seq
    return d


def med(key: str, *dosages: dict, text: str | None = None) -> DrugLine:
    drug = KB.drugs[key]
    mr = {"resourceType": "MedicationRequest", "id": f"mr-{key}", "status": "draft", "intent": "order",
          "subject": {"reference": "Patient/p1"},
          "dispenseRequest": {"validityPeriod": {"start": START.isoformat()}},
          "medicationCodeableConcept": {"coding": [
              {"system": RXNORM, "code": drug.rxnorm[0], "display": key} if drug.rxnorm else
              {"system": HCPCS, "code": drug.hcpcs[0].code, "display": key} if drug.hcpcs else
              {"system": RXNORM, "code": "0000000", "display": drug.name}]},
          "dosageInstruction": [dict(d) for d in dosages]}
    if text:
        mr["dosageInstruction"][0]["text"] = text
    return drug_line(mr, f"MedicationRequest/mr-{key}").line


def bm(name: str, result: str = "positive", value: float | None = None) -> Biomarker:
    return Biomarker(name=name, result=BiomarkerResult(result), value=value)


def order(*drugs: DrugLine, cancer: str = "breast", setting: Setting = Setting.METASTATIC,
          line: LineOfTherapy = LineOfTherapy.FIRST, stage: str | None = "IV", biomarkers=(),
          weight: float | None = 70.0, bsa: float | None = 1.8, histology: tuple = ()) -> Order:
    return Order(
        request_id="req-calendar",
        member=Member(id="MBR-1", birth_date=date(1962, 3, 4), line_of_business=LineOfBusiness.MEDICARE_ADVANTAGE),
        ordering_provider=Provider(npi="1234567893", name="Dr Onc", kind=ProviderKind.INDIVIDUAL),
        servicing_provider=None,
        diagnosis=Diagnosis(codes=(Code(ICD10CM, ICD[cancer]),), stage_group=stage, setting=setting,
                            line_of_therapy=line, histology=tuple(histology)),
        drugs=tuple(drugs), treatment_start=START, received_at=RECEIVED, biomarkers=tuple(biomarkers), ecog=1,
        weight_kg=weight, bsa_m2=bsa)


def schedule_deviations(d):
    return [x for x in d.deviations if x.kind in SCHEDULE_KINDS]


def drug(d, key):
    return next(x for x in d.drugs if x.drug_key == key)


HER2 = (bm("HER2"),)
TNBC = (bm("ER", "negative"), bm("PR", "negative"), bm("HER2", "negative"))


def her2_early(*drugs):
    return order(*drugs, setting=Setting.NEOADJUVANT, stage="IIB", line=LineOfTherapy.UNKNOWN, biomarkers=HER2)


def hp_with_loading(cycles=18):
    return (med("trastuzumab", dosage(8, "mg/kg", seq=1, days=[1], period=21, periodUnit="d", count=1),
                dosage(6, "mg/kg", seq=2, start=None, days=[1], period=21, periodUnit="d", count=cycles - 1)),
            med("pertuzumab", dosage(840, "mg", seq=1, days=[1], period=21, periodUnit="d", count=1),
                dosage(420, "mg", seq=2, start=None, days=[1], period=21, periodUnit="d", count=cycles - 1)))


# ------------------------------------------------------------------------------ weekly paclitaxel
WEEKLY_PACLITAXEL = {
    "7-day cycles x 12": lambda: [dosage(80, "mg/m2", period=7, periodUnit="d", count=12)],
    "1 week period x 12": lambda: [dosage(80, "mg/m2", period=1, periodUnit="wk", count=12)],
    "days 1, 8, 15 of 21-day cycles x 4": lambda: [dosage(80, "mg/m2", days=[1, 8, 15], period=21, periodUnit="d",
                                                          count=4, frequency=3)],
    "days 1, 8, 15 with frequency 1": lambda: [dosage(80, "mg/m2", days=[1, 8, 15], period=21, periodUnit="d",
                                                      count=4, frequency=1)],
    "3 per 21 days, 12 administrations": lambda: [dosage(80, "mg/m2", frequency=3, period=21, periodUnit="d",
                                                         count=12)],
    "weekly on the start's weekday for 12 weeks": lambda: [dosage(80, "mg/m2", start=None, period=1, periodUnit="wk",
                                                                  dayOfWeek=["tue"], boundsDuration={
                                                                      "value": 12, "unit": "wk", "code": "wk",
                                                                      "system": "http://unitsofmeasure.org"})],
    "twelve event dates": lambda: [dosage(80, "mg/m2", start=None,
                                          event=[START + timedelta(days=7 * k) for k in range(12)])],
    "two instructions in sequence (6 + 6)": lambda: [dosage(80, "mg/m2", seq=1, period=7, periodUnit="d", count=6),
                                                     dosage(80, "mg/m2", seq=2, start=None, period=7, periodUnit="d",
                                                            count=6)],
}


def _fingerprint(d):
    return (d.case_status, d.pathway.regimen_id if d.pathway else None,
            d.pathway.pathway_eligible_id if d.pathway else None,
            tuple((x.kind, x.severity, x.text) for x in d.deviations),
            tuple((x.drug_key, x.status, x.visits, x.billing_units, x.authorized_from, x.authorized_to)
                  for x in d.drugs), tuple((s.code, s.valid_from, s.valid_to, s.max_units) for s in d.s_codes))


@pytest.mark.parametrize("encoding", list(WEEKLY_PACLITAXEL))
def test_weekly_paclitaxel_in_every_encoding_is_on_pathway_with_twelve_visits(encoding):
    d = decide(her2_early(med("paclitaxel", *WEEKLY_PACLITAXEL[encoding]()), *hp_with_loading()), KB)
    assert d.pathway.regimen_id == "breast-her2-early-thp-after-ac"
    assert schedule_deviations(d) == [] and d.case_status is CaseStatus.AUTHORIZED
    pac = drug(d, "paclitaxel")
    # 80 mg/m2 x 1.8 m2 = 144 mg -> 144 units of J9267 (1 mg) per administration
    assert (pac.visits, pac.billing_units) == (12, 12 * 144.0)
    assert (pac.authorized_from, pac.authorized_to) == (START, START + timedelta(days=77))


def test_every_paclitaxel_encoding_gives_the_same_decision():
    prints = {enc: _fingerprint(decide(her2_early(med("paclitaxel", *make()), *hp_with_loading()), KB))
              for enc, make in WEEKLY_PACLITAXEL.items()}
    assert len(set(prints.values())) == 1, prints


def test_paclitaxel_every_21_days_instead_of_weekly_pends_in_the_clinicians_words():
    d = decide(her2_early(med("paclitaxel", dosage(80, "mg/m2", period=21, periodUnit="d", count=12)),
                          *hp_with_loading()), KB)
    texts = [x.text for x in schedule_deviations(d)]
    assert any("paclitaxel: every 21 days instead of every 7 days" in t for t in texts), texts
    assert d.case_status is CaseStatus.IN_PROGRESS and d.pathway.pathway_eligible_id is None


# ------------------------------------------------------------------------------ KEYNOTE-522
def kn522(*, pembro_count=17, with_ac=True, adjuvant_gap_days=0):
    lines = [med("paclitaxel", dosage(80, "mg/m2", period=7, periodUnit="d", count=12)),
             med("carboplatin", dosage(5, "AUC", period=21, periodUnit="d", count=4))]
    if pembro_count == 17 and adjuvant_gap_days:
        lines.insert(0, med("pembrolizumab", dosage(200, "mg", seq=1, period=21, periodUnit="d", count=8),
                            dosage(200, "mg", seq=2, start=START + timedelta(days=168 + adjuvant_gap_days),
                                   period=21, periodUnit="d", count=9)))
    else:
        lines.insert(0, med("pembrolizumab", dosage(200, "mg", period=21, periodUnit="d", count=pembro_count)))
    if with_ac:
        ac_start = START + timedelta(days=84)
        lines += [med("doxorubicin", dosage(60, "mg/m2", start=ac_start, period=21, periodUnit="d", count=4)),
                  med("cyclophosphamide", dosage(600, "mg/m2", start=ac_start, period=21, periodUnit="d", count=4))]
    return order(*lines, setting=Setting.NEOADJUVANT, stage="IIB", line=LineOfTherapy.UNKNOWN, biomarkers=TNBC)


@pytest.mark.parametrize("how, pembro, ac, gap, last_day", [
    ("whole, pembrolizumab x 17 in one instruction", 17, True, 0, 16 * 21),
    ("whole, 8 neoadjuvant + 9 adjuvant doses after a surgery gap", 17, True, 35, 168 + 35 + 8 * 21),
    ("the neoadjuvant phases alone", 8, True, 0, 7 * 21),
    ("the first neoadjuvant phase alone", 4, False, 0, 11 * 7),
])
def test_keynote_522_ordered_whole_or_by_phase_is_on_pathway(how, pembro, ac, gap, last_day):
    d = decide(kn522(pembro_count=pembro, with_ac=ac, adjuvant_gap_days=gap), KB)
    assert d.pathway.regimen_id == "breast-tnbc-early-keynote522", how
    assert schedule_deviations(d) == [], [x.text for x in d.deviations]
    assert d.pathway.pathway_eligible_id is not None and d.case_status is CaseStatus.AUTHORIZED
    # the authorized period runs to the last administration of the course ordered
    assert max(x.authorized_to for x in d.drugs) == START + timedelta(days=last_day)
    pem = drug(d, "pembrolizumab")
    assert pem.visits == pembro and pem.billing_units == 200.0 * pembro


def test_keynote_522_with_ac_given_alongside_paclitaxel_still_matches_but_a_short_pembrolizumab_count_pends():
    d = decide(kn522(pembro_count=6), KB)
    texts = [x.text for x in schedule_deviations(d)]
    assert any("pembrolizumab" in t and "instead of" in t for t in texts), texts


# ------------------------------------------------------------------------------ THP with loading doses
def test_thp_fixture_with_loading_doses_is_on_pathway_with_units_from_weight_and_bsa():
    bundle = json.loads((FIXTURES / "bundles" / "thp-her2-positive-metastatic.json").read_text())
    o = order_from_bundle(bundle, received_at=RECEIVED)
    assert (o.weight_kg, o.height_cm, o.bsa_m2) == (70.0, 165.0, 1.79)   # Mosteller from 165 cm, 70 kg
    d = decide(o, KB)
    assert d.case_status is CaseStatus.AUTHORIZED and d.deviations == ()
    tz, pz = drug(d, "trastuzumab"), drug(d, "pertuzumab")
    # 8 mg/kg x 70 kg = 560 mg (56 units of 10 mg), then 6 mg/kg = 420 mg (42 units); 9 visits in 6 months
    assert (tz.visits, tz.billing_units) == (9, 56 + 8 * 42.0)
    assert (pz.visits, pz.billing_units) == (9, 840 + 8 * 420.0)
    assert (tz.authorized_from, tz.authorized_to) == (START, date(2027, 5, 31))


def test_thp_without_the_loading_dose_is_authorized_with_a_dose_warning():
    d = decide(order(med("docetaxel", dosage(75, "mg/m2", period=21, periodUnit="d", count=6)),
                     med("trastuzumab", dosage(6, "mg/kg", period=21, periodUnit="d")),
                     med("pertuzumab", dosage(840, "mg", seq=1, period=21, periodUnit="d", count=1),
                         dosage(420, "mg", seq=2, start=None, period=21, periodUnit="d")), biomarkers=HER2), KB)
    warn = [x for x in d.deviations if x.kind is DeviationKind.DOSE]
    assert [x.drug_key for x in warn] == ["trastuzumab"] and warn[0].severity is Severity.WARNING
    assert "6 mg/kg instead of 8 mg/kg (administration 1" in warn[0].text
    assert d.case_status is CaseStatus.AUTHORIZED


# ------------------------------------------------------------------------------ labelled alternatives
@pytest.mark.parametrize("dose, weeks", [(200, 3), (400, 6)])
def test_pembrolizumab_every_3_or_6_weeks_is_on_pathway(dose, weeks):
    d = decide(order(med("pembrolizumab", dosage(dose, "mg", period=weeks, periodUnit="wk")), cancer="melanoma"), KB)
    assert d.pathway.regimen_id == "melanoma-met-pembrolizumab" and d.deviations == ()
    pem = drug(d, "pembrolizumab")
    assert pem.visits == len(range(0, 182, 7 * weeks)) and pem.billing_units == dose * pem.visits


@pytest.mark.parametrize("dose, weeks", [(480, 4), (240, 2)])
def test_nivolumab_every_4_or_2_weeks_is_on_pathway(dose, weeks):
    d = decide(order(med("nivolumab", dosage(dose, "mg", period=weeks, periodUnit="wk")), cancer="melanoma"), KB)
    assert d.pathway.regimen_id == "melanoma-met-nivolumab" and d.deviations == ()
    assert d.case_status is CaseStatus.AUTHORIZED


def test_pembrolizumab_400_mg_every_3_weeks_is_a_dose_warning_in_the_pas_process_notes():
    d = decide(order(med("pembrolizumab", dosage(400, "mg", period=21, periodUnit="d", count=35)),
                     cancer="melanoma"), KB)
    warn = [x for x in d.deviations if x.kind is DeviationKind.DOSE]
    assert warn and warn[0].severity is Severity.WARNING and warn[0].drug_key == "pembrolizumab"
    assert "400 mg instead of 200 mg" in warn[0].text and d.case_status is CaseStatus.AUTHORIZED
    assert schedule_deviations(d) == []


def test_a_dose_warning_reaches_the_claim_response_process_notes():
    bundle = json.loads((FIXTURES / "pas" / "thp-her2-positive.json").read_text())
    for e in bundle["entry"]:
        r = e["resource"]
        if r.get("id") == "onc-mr-pertuzumab":
            r["dosageInstruction"][1]["doseAndRate"][0]["doseQuantity"]["value"] = 600
    o = order_from_pas_bundle(bundle, received_at=RECEIVED)
    d = decide(o, KB)
    response = render_claim_response_bundle(d, "ORD-1", bundle, created=RECEIVED)
    notes = [n["text"] for n in response["entry"][0]["resource"]["processNote"]]
    assert any(t.startswith("Warning (dose, pertuzumab): pertuzumab: 600 mg instead of 420 mg") for t in notes), notes
    assert response["entry"][0]["resource"]["outcome"] == "complete"


def test_docetaxel_100_mg_m2_in_tchp_is_a_dose_warning_not_a_pend():
    d = decide(her2_early(med("docetaxel", dosage(100, "mg/m2", period=21, periodUnit="d", count=6)),
                          med("carboplatin", dosage(6, "AUC", period=21, periodUnit="d", count=6)),
                          *hp_with_loading()), KB)
    assert d.pathway.regimen_id == "breast-her2-early-tchp"
    warn = [x for x in d.deviations if x.kind is DeviationKind.DOSE]
    assert [x.drug_key for x in warn] == ["docetaxel"] and "100 mg/m2 instead of 75 mg/m2" in warn[0].text
    assert d.case_status is CaseStatus.AUTHORIZED


# ------------------------------------------------------------------------------ daratumumab
def drd(third_period_days=28):
    # DRd is labelled for newly diagnosed patients who are not transplant candidates (the worksheet's
    # attestation since 2027.1.4)
    return dataclasses.replace(_drd(third_period_days), transplant="ineligible")


def _drd(third_period_days=28):
    return order(
        med("daratumumab", dosage(16, "mg/kg", seq=1, period=7, periodUnit="d", count=8),
            dosage(16, "mg/kg", seq=2, start=None, period=14, periodUnit="d", count=8),
            dosage(16, "mg/kg", seq=3, start=None, period=third_period_days, periodUnit="d")),
        med("lenalidomide", dosage(25, "mg", days=list(range(1, 22)), period=28, periodUnit="d")),
        cancer="myeloma", setting=Setting.UNKNOWN, stage=None)


def test_daratumumab_weekly_then_every_2_then_every_4_weeks_is_on_pathway():
    d = decide(drd(), KB)
    assert d.pathway.regimen_id == "myeloma-nd-drd" and schedule_deviations(d) == []
    dara = drug(d, "daratumumab")
    # weeks 1-8 weekly (8), weeks 9-24 every 2 weeks (8), then every 4 weeks within the 6 months:
    # the calendar matches (sources treated as verified here, see KB above)
    assert dara.status.value == "Authorized"


def test_daratumumab_weekly_then_every_2_then_every_4_weeks_counts_17_visits_of_112_units():
    dara = drug(decide(drd(), KB), "daratumumab")
    # weeks 1-8 weekly (8), weeks 9-24 every 2 weeks (8), then every 4 weeks within the 6 months
    assert dara.visits == 8 + 8 + 1
    assert dara.billing_units == 17 * 112.0   # 16 mg/kg x 70 kg = 1120 mg = 112 units of J9145 (10 mg)


def test_daratumumab_kept_every_2_weeks_after_week_24_pends():
    d = decide(drd(third_period_days=14), KB)
    texts = [x.text for x in schedule_deviations(d)]
    assert any("daratumumab: every 14 days instead of every 28 days" in t for t in texts), texts


# ------------------------------------------------------------------------------ capecitabine
@pytest.mark.parametrize("encoding", ["frequency 28 per 21-day cycle", "frequency 1 and two times of day"])
def test_capecitabine_twice_daily_days_1_to_14_of_21_is_on_pathway(encoding):
    days = list(range(1, 15))
    if encoding.startswith("frequency 28"):
        di = dosage(1250, "mg/m2", days=days, period=21, periodUnit="d", frequency=28, count=8)
    else:
        di = dosage(1250, "mg/m2", days=days, period=21, periodUnit="d", frequency=1, count=8, when=["MORN", "EVE"])
    line = med("capecitabine", di)
    assert (line.frequency_per_day, line.cycle_length_days, line.cycles) == (2, 21, 8)
    d = decide(order(line, cancer="colorectal", setting=Setting.ADJUVANT, stage="III",
                     line=LineOfTherapy.UNKNOWN), KB)
    assert d.pathway.regimen_id == "colon-adj-capecitabine" and schedule_deviations(d) == []


def test_capecitabine_once_daily_is_a_frequency_deviation():
    line = med("capecitabine", dosage(1250, "mg/m2", days=list(range(1, 15)), period=21, periodUnit="d", count=8))
    d = decide(order(line, cancer="colorectal", setting=Setting.ADJUVANT, stage="III",
                     line=LineOfTherapy.UNKNOWN), KB)
    assert any("capecitabine: once a day instead of twice a day" in x.text for x in schedule_deviations(d))


# ------------------------------------------------------------------------------ review CLI
def test_the_review_text_lists_the_calendar_read_for_each_drug():
    bundle = json.loads((FIXTURES / "bundles" / "thp-her2-positive-metastatic.json").read_text())
    o = order_from_bundle(bundle, received_at=RECEIVED)
    text = explain(decide(o, KB), o)
    assert "Calendar read (FHIR Timing):" in text
    assert "trastuzumab: every 21 days until progression" in text
    assert "2026-12-01 8 mg/kg, 2026-12-22 6 mg/kg" in text
    assert "docetaxel: every 21 days x 6; 6 administration day(s): 2026-12-01 75 mg/m2" in text


def test_the_order_summary_shows_the_calendar_and_billing_unit_totals_per_hcpcs():
    from server.review.summary import summary_view
    bundle = json.loads((FIXTURES / "bundles" / "thp-her2-positive-metastatic.json").read_text())
    o = order_from_bundle(bundle, received_at=RECEIVED)
    d = decide(o, KB)
    view = summary_view("ORD-1", o, d, status=d.case_status.value, received_at=RECEIVED, updated_at=RECEIVED)
    dosing = {x["drugKey"]: x["dosing"] for x in view["drugs"]}
    assert dosing["trastuzumab"] == "8 mg/kg then 6 mg/kg, IV, every 21 days until progression"
    assert dosing["docetaxel"] == "75 mg/m2, IV, every 21 days x 6"
    # docetaxel 75 mg/m2 x 1.79 m2 = 134.25 mg -> 135 units of J9171 (1 mg), x 6
    assert view["billingTotals"] == [{"hcpcs": "J9171", "units": 810.0}, {"hcpcs": "J9355", "units": 392.0},
                                     {"hcpcs": "J9306", "units": 4200.0}]


def test_a_request_group_puts_ac_after_the_end_of_weekly_paclitaxel():
    """CodeX MOPA AntiCancerRegimen style: one start date on every order, the sequence in
    RequestGroup.action.relatedAction (AC after-end of paclitaxel)."""
    from mappings.order import order_from_resources

    def mr(key, *dosages):
        drug = KB.drugs[key]
        return {"resourceType": "MedicationRequest", "id": key, "status": "draft", "intent": "order",
                "subject": {"reference": "Patient/p1"},
                "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": drug.rxnorm[0]}]},
                "dosageInstruction": list(dosages)}
    drafts = [mr("pembrolizumab", dosage(200, "mg", period=21, periodUnit="d", count=8)),
              mr("paclitaxel", dosage(80, "mg/m2", period=7, periodUnit="d", count=12)),
              mr("carboplatin", dosage(5, "AUC", period=21, periodUnit="d", count=4)),
              mr("doxorubicin", dosage(60, "mg/m2", period=21, periodUnit="d", count=4)),
              mr("cyclophosphamide", dosage(600, "mg/m2", period=21, periodUnit="d", count=4))]
    after_paclitaxel = [{"actionId": "a-paclitaxel", "relationship": "after-end"}]
    group = {"resourceType": "RequestGroup", "id": "kn522", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/p1"},
             "action": [{"id": f"a-{k}", "resource": {"reference": f"MedicationRequest/{k}"},
                         **({"relatedAction": after_paclitaxel} if k in ("doxorubicin", "cyclophosphamide") else {})}
                        for k in ("pembrolizumab", "paclitaxel", "carboplatin", "doxorubicin", "cyclophosphamide")]}
    o = order_from_resources(drafts + [group], [], request_id="rg", received_at=RECEIVED)
    starts = {l.display or l.ref: l.start for l in o.drugs}
    lines = {l.ref: l for l in o.drugs}
    assert lines["MedicationRequest/doxorubicin"].start == START + timedelta(days=84)
    assert lines["MedicationRequest/cyclophosphamide"].start == START + timedelta(days=84), starts
    assert lines["MedicationRequest/paclitaxel"].start == START


def test_nivolumab_with_ipilimumab_then_480_mg_every_4_weeks_is_on_pathway_and_staying_on_1_mg_kg_pends():
    induction = dosage(1, "mg/kg", seq=1, period=21, periodUnit="d", count=4)
    ipi = med("ipilimumab", dosage(3, "mg/kg", period=21, periodUnit="d", count=4))
    good = decide(order(med("nivolumab", induction, dosage(480, "mg", seq=2, start=None, period=4, periodUnit="wk")),
                        ipi, cancer="melanoma"), KB)
    assert good.pathway.regimen_id == "melanoma-met-nivolumab-ipilimumab" and good.deviations == ()
    stay = decide(order(med("nivolumab", dosage(1, "mg/kg", period=21, periodUnit="d")), ipi, cancer="melanoma"), KB)
    texts = [x.text for x in stay.deviations]
    assert any("nivolumab: every 21 days instead of every 28 days in nivolumab maintenance" in t for t in texts), texts
    assert stay.case_status is CaseStatus.IN_PROGRESS


def _ac_then_thp(with_ac=True):
    thp_start = START + timedelta(days=84)
    lines = [med("paclitaxel", dosage(80, "mg/m2", start=thp_start, period=7, periodUnit="d", count=12)),
             med("trastuzumab", dosage(8, "mg/kg", seq=1, start=thp_start, period=21, periodUnit="d", count=1),
                 dosage(6, "mg/kg", seq=2, start=None, period=21, periodUnit="d", count=17)),
             med("pertuzumab", dosage(840, "mg", seq=1, start=thp_start, period=21, periodUnit="d", count=1),
                 dosage(420, "mg", seq=2, start=None, period=21, periodUnit="d", count=17))]
    if with_ac:
        lines = [med("doxorubicin", dosage(60, "mg/m2", period=21, periodUnit="d", count=4)),
                 med("cyclophosphamide", dosage(600, "mg/m2", period=21, periodUnit="d", count=4))] + lines
    return her2_early(*lines)


def test_ac_thp_ordered_whole_is_authorized_for_the_whole_course_ac_then_a_year_of_hp():
    d = decide(_ac_then_thp(), KB)
    assert d.pathway.regimen_id == "breast-her2-early-ac-thp" and schedule_deviations(d) == []
    tz = drug(d, "trastuzumab")
    # HP from day 85 for 18 doses: the last on day 85 + 17 x 21
    assert (tz.authorized_from, tz.authorized_to, tz.visits) == (START + timedelta(days=84),
                                                                  START + timedelta(days=84 + 17 * 21), 18)
    s0354 = next(s for s in d.s_codes if s.code == "S0354")
    assert s0354.valid_to == START + timedelta(days=84 + 17 * 21)


def test_the_fn_risk_is_the_risk_of_the_phases_ordered():
    from server.engine.calendars import fit_regimen
    from server.knowledge.model import FnRisk
    regimen = next(r for p in KB.pathways for r in p.regimens if r.id == "breast-her2-early-ac-thp")
    o = _ac_then_thp(with_ac=False)
    lines = {l.display: [l] for l in o.drugs}
    fit = fit_regimen(regimen, lines, o, START)
    assert fit.run == (1, 2) and fit.fn_risk is FnRisk.LOW and regimen.fn_risk is FnRisk.INTERMEDIATE
    whole = _ac_then_thp()
    assert fit_regimen(regimen, {l.display: [l] for l in whole.drugs}, whole, START).fn_risk is FnRisk.INTERMEDIATE


def test_ac_dated_to_start_during_the_paclitaxel_phase_of_keynote_522_pends():
    o = kn522(pembro_count=8)
    early = START + timedelta(days=42)
    lines = [replace_start(l, early) if l.display in ("doxorubicin", "cyclophosphamide") else l for l in o.drugs]
    d = decide(dataclasses.replace(o, drugs=tuple(lines)), KB)
    texts = [x.text for x in schedule_deviations(d)]
    assert any("doxorubicin: starts on day 43 instead of day 85" in t for t in texts), texts
    assert d.case_status is CaseStatus.IN_PROGRESS


def replace_start(line, start):
    return dataclasses.replace(line, start=start)

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
