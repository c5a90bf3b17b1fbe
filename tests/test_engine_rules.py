"""Engine unit tests against the small hand-built knowledge base in kbfakes."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from kbfakes import RECEIVED, fake_knowledge, her2, line, marker, order, thp
from server.domain.decision import (
    ENGINE_CASE_STATUSES,
    ENGINE_DRUG_STATUSES,
    CaseStatus,
    DeviationKind,
    DrugStatus,
    Severity,
)
from server.domain.order import (
    DrugRole,
    History,
    LineOfBusiness,
    LineOfTherapy,
    NetworkStatus,
    PriorCase,
    ProviderKind,
    Setting,
    Urgency,
)
from server.engine import decide
from server.engine.criteria import biomarker_holds
from server.engine.dates import add_business_days, business_days_after, whole_months
from server.engine.matching import pathway_eligible_id
from server.knowledge.model import BiomarkerCriterion

KB = fake_knowledge()


def run(o, history=History()):
    d = decide(o, KB, history)
    assert d.case_status in ENGINE_CASE_STATUSES
    assert all(x.status in ENGINE_DRUG_STATUSES for x in d.drugs)
    return d


def statuses(d):
    return {x.drug_key or x.ref: x.status for x in d.drugs}


def codes(reasons):
    return {r.code for r in reasons}


# ----------------------------------------------------------------- on pathway (R4, R3, R15)
def test_her2_positive_metastatic_thp_is_authorized_on_pathway_with_a_pathway_eligible_id():
    d = run(order(*thp(), biomarkers=[her2()]))
    assert d.case_status is CaseStatus.AUTHORIZED
    assert set(statuses(d).values()) == {DrugStatus.AUTHORIZED}
    assert d.pathway.regimen_id == "breast-her2-met-thp"
    assert d.pathway.pathway_eligible_id == pathway_eligible_id("req-1", "breast-her2-met-thp", "test-1")
    assert d.pathway.pathway_eligible_id.startswith("PE-") and len(d.pathway.pathway_eligible_id) == 13
    assert [s.code for s in d.s_codes] == ["S0353", "S0354"]
    assert d.due_by is None and d.pend_reasons == ()


def test_the_trace_names_every_rule_applied():
    d = run(order(*thp(), biomarkers=[her2()]))
    assert {"R1", "R3", "R4", "R5", "R9", "R12", "R15", "R16", "R17", "R18", "R19"} <= set(d.rules_applied())
    assert "R11" not in d.rules_applied()


def test_same_order_twice_gives_equal_decisions():
    o = order(*thp(), line("pegfilgrastim"), biomarkers=[her2()])
    assert run(o) == run(o)


# ----------------------------------------------------------------- R3 policy
def test_trastuzumab_with_her2_negative_is_pended_with_a_reason_naming_her2():
    d = run(order(*thp(), biomarkers=[her2("negative")]))
    assert d.case_status is CaseStatus.IN_PROGRESS
    tz = d.drug("MedicationRequest/trastuzumab")
    assert tz.status is DrugStatus.IN_PROGRESS
    assert any("trastuzumab requires HER2 positive; reported HER2 negative" in r.text for r in tz.reasons)
    assert d.pathway is None
    assert any(x.kind is DeviationKind.BIOMARKER_MISMATCH and x.severity is Severity.WARNING
               for x in d.deviations)


def test_her2_not_reported_pends_with_a_missing_biomarker_deviation_and_no_pe_id():
    d = run(order(*thp()))
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert d.pathway is not None and d.pathway.pathway_eligible_id is None
    missing = [x for x in d.deviations if x.kind is DeviationKind.MISSING_BIOMARKER]
    assert missing and missing[0].severity is Severity.PEND
    assert "HER2 status required for THP" in missing[0].text
    tz = d.drug("MedicationRequest/trastuzumab")
    assert any(r.code == "policy-criteria-unknown" and "HER2 not reported" in r.text for r in tz.reasons)
    assert d.s_codes == ()


def test_her2_equivocal_is_unknown_not_negative():
    d = run(order(*thp(), biomarkers=[her2("equivocal")]))
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert any(x.kind is DeviationKind.MISSING_BIOMARKER for x in d.deviations)
    assert not any(x.kind is DeviationKind.BIOMARKER_MISMATCH for x in d.deviations)


def test_a_drug_without_a_medical_policy_is_pended_and_pathway_eligibility_waits_for_review():
    d = run(order(line("gemcitabine"), line("carboplatin"), cancer="nsclc", ecog=1,
                  biomarkers=[marker("EGFR", "negative"), marker("ALK", "negative")]))
    assert d.pathway is not None and d.pathway.pathway_eligible_id is None and d.on_pathway is False
    gem = d.drug("MedicationRequest/gemcitabine")
    assert gem.status is DrugStatus.IN_PROGRESS
    assert codes(gem.reasons) == {"no-medical-policy"}
    assert d.drug("MedicationRequest/carboplatin").status is DrugStatus.AUTHORIZED
    assert d.case_status is CaseStatus.IN_PROGRESS and d.s_codes == ()
    assert "no medical policy on file" in gem.reasons[0].text


def test_policy_requires_any_is_met_by_one_positive_marker():
    d = run(order(line("pembrolizumab"), cancer="nsclc", biomarkers=[marker("PDL1_TPS", value=80)]))
    assert d.case_status is CaseStatus.AUTHORIZED
    assert d.pathway.regimen_id == "nsclc-pembrolizumab-mono"


# ----------------------------------------------------------------- R2 pharmacy benefit
def test_oral_palbociclib_and_letrozole_are_other_impact_and_the_case_is_completed():
    d = run(order(line("palbociclib"), line("letrozole"), biomarkers=[marker("ER"), her2("negative")]))
    assert d.case_status is CaseStatus.COMPLETED
    assert set(statuses(d).values()) == {DrugStatus.OTHER_IMPACT}
    palbo = d.drug("MedicationRequest/palbociclib")
    assert palbo.contact == "CarelonRx (pharmacy benefit manager)"
    assert d.drug("MedicationRequest/letrozole").contact == "pharmacy benefit manager"
    assert d.on_pathway and {s.code for s in d.s_codes} == {"S0353", "S0354"}


# ----------------------------------------------------------------- R12 eligibility
@pytest.mark.parametrize("lob", [LineOfBusiness.COMMERCIAL_HMO, LineOfBusiness.COMMERCIAL_PPO,
                                 LineOfBusiness.MEDICAID, LineOfBusiness.DUAL_ELIGIBLE, LineOfBusiness.FEP])
def test_members_outside_medicare_advantage_are_referred_to_the_health_plan(lob):
    d = run(order(*thp(), biomarkers=[her2()], lob=lob))
    assert d.case_status is CaseStatus.COMPLETED and d.in_program is False
    assert d.program_reason.code == "member-not-in-program"
    assert "contact the health plan" in d.program_reason.text
    assert set(statuses(d).values()) == {DrugStatus.REFER_TO_HEALTH_PLAN}
    assert d.pathway is None and d.s_codes == ()


def test_unknown_line_of_business_is_evaluated_with_an_eligibility_notice():
    d = run(order(*thp(), biomarkers=[her2()], lob=LineOfBusiness.UNKNOWN))
    assert d.in_program and d.case_status is CaseStatus.AUTHORIZED
    assert "eligibility-not-confirmed" in codes(d.notices)


def test_a_non_oncology_diagnosis_is_not_managed():
    d = run(order(line("pegfilgrastim"), cancer="ra"))
    assert d.in_program is False and d.case_status is CaseStatus.COMPLETED
    assert d.program_reason.code == "diagnosis-not-oncology"
    assert statuses(d)["pegfilgrastim"] is DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED


def test_a_request_without_drugs_is_completed_outside_the_program():
    d = run(order())
    assert d.case_status is CaseStatus.COMPLETED and not d.in_program
    assert d.program_reason.code == "no-drug-orders"


# ----------------------------------------------------------------- R14 trials, unknown drugs
def test_investigational_drug_is_not_reviewed_and_the_rest_of_the_regimen_is():
    o = order(*thp(), line("unknown-trial-drug"), biomarkers=[her2()], clinical_trial_nct="NCT01234567")
    d = run(o)
    trial = d.drug("MedicationRequest/unknown-trial-drug")
    assert trial.status is DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED
    assert "investigational drug in trial NCT01234567: not reviewed" in trial.reasons[0].text
    assert d.case_status is CaseStatus.AUTHORIZED and d.on_pathway
    assert any("NCT01234567" in t.text for t in d.trace if t.rule == "R14")


def test_a_known_drug_marked_investigational_is_left_out_of_matching():
    o = order(*thp(), line("pembrolizumab", role=DrugRole.INVESTIGATIONAL), biomarkers=[her2()],
              clinical_trial_nct="NCT09999999")
    d = run(o)
    assert statuses(d)["pembrolizumab"] is DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED
    assert d.pathway.regimen_id == "breast-her2-met-thp"


def test_an_unrecognized_drug_code_outside_a_trial_pends():
    d = run(order(*thp(), line("unknown-drug"), biomarkers=[her2()]))
    assert d.drug("MedicationRequest/unknown-drug").status is DrugStatus.IN_PROGRESS
    assert "drug-not-recognized" in codes(d.pend_reasons)
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert d.pathway is not None and d.pathway.pathway_eligible_id is None   # regimen incomplete


# ----------------------------------------------------------------- R7 supportive only
def test_supportive_only_request_pends_for_prior_regimen_review_and_names_the_prior_order():
    history = History((PriorCase("ORD-9", "req-0", "Authorized", frozenset({"docetaxel"}),
                                 date(2026, 9, 1), date(2027, 2, 28)),))
    d = run(order(line("ondansetron"), supportive_only=True, prior_order_id="ORD-9"), history)
    assert d.case_status is CaseStatus.IN_PROGRESS
    reason = d.drug("MedicationRequest/ondansetron").reasons[0]
    assert reason.code == "supportive-only"
    assert "pended for review of prior regimen history" in reason.text
    assert "ORD-9 (on file)" in reason.text
    assert not any(x.kind is DeviationKind.CUSTOM_TREATMENT_PLAN for x in d.deviations)


def test_a_request_of_only_supportive_drugs_counts_as_supportive_only_without_the_flag():
    d = run(order(line("pegfilgrastim")))
    assert d.drug("MedicationRequest/pegfilgrastim").reasons[0].code == "supportive-only"
    assert "no prior Order ID referenced" in d.drug("MedicationRequest/pegfilgrastim").reasons[0].text


def test_the_supportive_only_flag_with_therapeutic_drugs_still_reviews_the_regimen():
    d = run(order(*thp(), line("ondansetron"), biomarkers=[her2()], supportive_only=True))
    assert d.pathway.regimen_id == "breast-her2-met-thp"
    assert d.drug("MedicationRequest/ondansetron").reasons[0].code == "supportive-only"
    assert d.case_status is CaseStatus.IN_PROGRESS


# ----------------------------------------------------------------- R4/R5 custom plan, alternatives
def test_an_unmatched_combination_is_a_custom_treatment_plan_with_everything_pended():
    d = run(order(line("gemcitabine"), line("trastuzumab"), line("ondansetron"), biomarkers=[her2()]))
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert any(x.kind is DeviationKind.CUSTOM_TREATMENT_PLAN and x.severity is Severity.PEND for x in d.deviations)
    assert set(statuses(d).values()) == {DrugStatus.IN_PROGRESS}
    assert any(r.code == "custom-treatment-plan" for r in d.drug("MedicationRequest/ondansetron").reasons)
    assert [a.regimen_id for a in d.alternatives] == ["breast-her2-met-thp"]
    assert d.alternatives[0].precision is True


def test_off_pathway_alternatives_put_fully_met_pathways_first_and_stop_at_three():
    d = run(order(line("carboplatin"), line("docetaxel"), cancer="nsclc", ecog=1))
    assert d.case_status is CaseStatus.IN_PROGRESS
    ids = [a.regimen_id for a in d.alternatives]
    assert len(ids) == 3
    # PD-L1 and EGFR not reported: those pathways are only possible, the chemo one is fully met
    assert ids[:2] == ["nsclc-nonsq-carbo-pem-pembro", "nsclc-gem-carbo"]


def test_a_retired_pathway_is_not_used():
    d = run(order(line("atezolizumab"), line("nab-paclitaxel"), biomarkers=[her2("negative")]))
    assert d.pathway is None
    assert any(x.kind is DeviationKind.CUSTOM_TREATMENT_PLAN for x in d.deviations)
    assert any("breast-tnbc-atezolizumab-retired" in t.text and "not used" in t.text for t in d.trace)


def test_the_retired_pathway_still_applies_to_a_start_before_retirement():
    d = run(order(line("atezolizumab"), line("nab-paclitaxel"), start=date(2021, 3, 1),
                  received=datetime(2021, 3, 1, 9, tzinfo=timezone.utc)))
    assert d.pathway is not None and d.pathway.regimen_id == "breast-tnbc-atezo-nabp"


def test_setting_not_reported_is_a_pend_deviation():
    d = run(order(*thp(), biomarkers=[her2()], setting=Setting.UNKNOWN))
    assert any(x.kind is DeviationKind.MISSING_SETTING and x.severity is Severity.PEND for x in d.deviations)
    assert d.case_status is CaseStatus.IN_PROGRESS


def test_stage_and_line_not_reported_are_each_a_deviation():
    d = run(order(*thp(), biomarkers=[her2()], stage=None, line_of_therapy=LineOfTherapy.UNKNOWN))
    kinds = {x.kind for x in d.deviations}
    assert {DeviationKind.MISSING_STAGE, DeviationKind.MISSING_LINE} <= kinds


def test_ecog_above_the_pathway_limit_takes_the_regimen_off_pathway():
    cpp = (line("carboplatin"), line("pemetrexed"), line("pembrolizumab"))
    d = run(order(*cpp, cancer="nsclc", ecog=3, biomarkers=[marker("PDL1_TPS", value=10),
                                                             marker("EGFR", "negative"), marker("ALK", "negative")]))
    assert d.pathway is None
    assert any(x.kind is DeviationKind.MISSING_ECOG and x.severity is Severity.WARNING for x in d.deviations)
    assert d.case_status is CaseStatus.AUTHORIZED   # authorized under policy, no enhanced reimbursement
    assert d.s_codes == ()


def test_ecog_not_reported_pends_when_the_pathway_limits_it():
    cpp = (line("carboplatin"), line("pemetrexed"), line("pembrolizumab"))
    d = run(order(*cpp, cancer="nsclc", biomarkers=[marker("PDL1_TPS", value=10), marker("EGFR", "negative"),
                                                     marker("ALK", "negative")]))
    assert any(x.kind is DeviationKind.MISSING_ECOG and x.severity is Severity.PEND for x in d.deviations)


# ----------------------------------------------------------------- R5 schedule and dose
def test_a_changed_cycle_length_is_a_deviation_per_drug_and_removes_the_pe_id():
    d = run(order(*thp(cycle_length_days=28), biomarkers=[her2()]))
    cl = [x for x in d.deviations if x.kind is DeviationKind.CYCLE_LENGTH]
    assert len(cl) == 3 and all(x.severity is Severity.PEND for x in cl)
    assert "every 28 days instead of every 21 days" in cl[0].text
    assert d.pathway is not None and d.pathway.pathway_eligible_id is None
    assert d.case_status is CaseStatus.IN_PROGRESS


def test_the_schedule_picks_the_matching_regimen_among_those_with_one_drug_set():
    d = run(order(line("doxorubicin", cycle_length_days=21), line("cyclophosphamide", cycle_length_days=21),
                  setting=Setting.ADJUVANT, stage="IIA"))
    assert d.pathway.regimen_id == "breast-early-ac"
    assert not any(x.kind is DeviationKind.CYCLE_LENGTH for x in d.deviations)


def test_a_dose_outside_set_parameters_is_a_warning_only():
    d = run(order(line("docetaxel", dose=150, dose_unit="mg/m2"), line("trastuzumab"), line("pertuzumab"),
                  biomarkers=[her2()]))
    dose = [x for x in d.deviations if x.kind is DeviationKind.DOSE]
    assert dose and dose[0].severity is Severity.WARNING and dose[0].drug_key == "docetaxel"
    assert d.case_status is CaseStatus.AUTHORIZED and d.on_pathway


# ----------------------------------------------------------------- R6 FN risk
def test_growth_factor_with_a_high_fn_risk_regimen_is_indicated():
    d = run(order(line("doxorubicin"), line("cyclophosphamide"), line("pegfilgrastim"),
                  setting=Setting.ADJUVANT, stage="IIA"))
    assert d.pathway.regimen_id == "breast-early-ddac"
    assert statuses(d)["pegfilgrastim"] is DrugStatus.AUTHORIZED
    assert d.case_status is CaseStatus.AUTHORIZED


def test_growth_factor_with_intermediate_risk_and_no_risk_factor_pends():
    d = run(order(*thp(), line("pegfilgrastim"), biomarkers=[her2()], setting=Setting.METASTATIC,
                  birth=date(1980, 1, 1), ecog=0), )
    # metastatic setting is itself a risk factor (advanced disease)
    assert statuses(d)["pegfilgrastim"] is DrugStatus.AUTHORIZED
    d = run(order(line("doxorubicin", cycle_length_days=21), line("cyclophosphamide", cycle_length_days=21),
                  line("pegfilgrastim"), setting=Setting.ADJUVANT, stage="IIA", birth=date(1980, 1, 1)))
    fn = [x for x in d.deviations if x.kind is DeviationKind.FN_RISK]
    assert fn and fn[0].severity is Severity.PEND and fn[0].rule == "R6"
    assert "intermediate FN risk" in fn[0].text
    assert d.case_status is CaseStatus.IN_PROGRESS


def test_growth_factor_with_intermediate_risk_and_age_65_is_indicated():
    d = run(order(line("doxorubicin", cycle_length_days=21), line("cyclophosphamide", cycle_length_days=21),
                  line("pegfilgrastim"), setting=Setting.ADJUVANT, stage="IIA", birth=date(1950, 1, 1)))
    assert not any(x.kind is DeviationKind.FN_RISK for x in d.deviations)
    assert statuses(d)["pegfilgrastim"] is DrugStatus.AUTHORIZED


def test_growth_factor_with_a_low_fn_risk_regimen_pends_for_review():
    d = run(order(line("pembrolizumab"), line("pegfilgrastim"), cancer="nsclc",
                  biomarkers=[marker("PDL1_TPS", value=90)]))
    fn = [x for x in d.deviations if x.kind is DeviationKind.FN_RISK]
    assert fn and "low FN-risk" in fn[0].text
    assert statuses(d)["pegfilgrastim"] is DrugStatus.IN_PROGRESS


# ----------------------------------------------------------------- R8 duplicates
def test_an_overlapping_similar_order_of_the_same_provider_is_flagged_naming_its_order_id():
    o = order(*thp(), biomarkers=[her2()])
    prior = PriorCase("ORD-1", "req-0", "Authorized", frozenset({"trastuzumab"}), date(2026, 10, 1),
                      date(2027, 3, 31), provider_npi=o.ordering_provider.npi)
    d = run(o, History((prior,)))
    assert d.duplicate_of == "ORD-1"
    assert "Duplicate Order: similar request on file (Order ID ORD-1)" in \
        next(n.text for n in d.notices if n.code == "duplicate-order")
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert d.s_codes == ()


def test_a_duplicate_of_another_providers_order_names_neither_its_order_id_nor_its_drugs():
    prior = PriorCase("ORD-1", "req-0", "Authorized", frozenset({"trastuzumab"}), date(2026, 10, 1),
                      date(2027, 3, 31), provider_npi="1679576722")
    d = run(order(*thp(), biomarkers=[her2()]), History((prior,)))
    text = next(n.text for n in d.notices if n.code == "duplicate-order")
    assert text == "Duplicate Order: a similar request is on file with another provider"
    assert "ORD-1" not in text and "trastuzumab" not in text
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert any("ORD-1" in s.text and "another provider's" in s.text for s in d.trace if s.rule == "R8")


def test_a_prior_case_made_from_the_same_ehr_orders_is_a_resubmission_not_a_duplicate():
    refs = frozenset(l.ref for l in thp())
    same = PriorCase("ORD-1", "req-0", "Authorized", frozenset({"trastuzumab"}), date(2026, 10, 1),
                     date(2027, 3, 31), order_refs=refs)
    d = run(order(*thp(), biomarkers=[her2()]), History((same,)))
    assert d.duplicate_of is None and d.case_status is CaseStatus.AUTHORIZED
    assert any("a re-submission, not a duplicate" in s.text for s in d.trace if s.rule == "R8")


def test_pas_line_refs_never_make_two_claims_the_same_order():
    items = tuple(replace(l, ref=f"item/{i}") for i, l in enumerate(thp(), 1))
    prior = PriorCase("ORD-1", "req-0", "Authorized", frozenset({"trastuzumab"}), date(2026, 10, 1),
                      date(2027, 3, 31), order_refs=frozenset({"item/1", "item/2", "item/3"}))
    d = run(order(*items, biomarkers=[her2()]), History((prior,)))
    assert d.duplicate_of == "ORD-1"


def test_a_cancelled_or_non_overlapping_prior_case_is_not_a_duplicate():
    cancelled = PriorCase("ORD-1", "req-0", "Review Cancelled", frozenset({"trastuzumab"}), date(2026, 10, 1), None)
    old = PriorCase("ORD-2", "req-00", "Authorized", frozenset({"trastuzumab"}), date(2025, 1, 1),
                    date(2025, 6, 30))
    d = run(order(*thp(), biomarkers=[her2()]), History((cancelled, old)))
    assert d.duplicate_of is None and d.case_status is CaseStatus.AUTHORIZED


# ----------------------------------------------------------------- R9 dates, R10 due-by
def test_a_start_one_business_day_before_the_request_is_an_accepted_retrospective_request():
    d = run(order(*thp(), biomarkers=[her2()], start=date(2026, 11, 13)))  # Fri before Mon 16th
    assert "retrospective-request" in codes(d.notices)
    assert d.case_status is CaseStatus.AUTHORIZED


def test_a_start_four_business_days_before_the_request_pends():
    d = run(order(*thp(), biomarkers=[her2()], start=date(2026, 11, 10)))
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert any("retrospective request beyond 2 business days" in r.text for r in d.pend_reasons)


def test_no_treatment_start_takes_the_request_date_with_a_notice():
    d = run(order(*thp(), biomarkers=[her2()], start=None))
    assert "date-of-service-not-reported" in codes(d.notices)
    assert d.drug("MedicationRequest/docetaxel").authorized_from == RECEIVED.date()


def test_urgent_pended_requests_are_due_in_24_hours_and_standard_in_3_business_days():
    urgent = run(order(*thp(), urgency=Urgency.URGENT))
    standard = run(order(*thp()))
    assert urgent.due_by == datetime(2026, 11, 17, 14, 0, tzinfo=timezone.utc)
    assert standard.due_by == datetime(2026, 11, 19, 14, 0, tzinfo=timezone.utc)
    friday = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    assert run(order(*thp(), received=friday, start=date(2026, 11, 23))).due_by == \
        datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


# ----------------------------------------------------------------- R13 providers
def test_an_organization_as_ordering_provider_pends():
    d = run(order(*thp(), biomarkers=[her2()], provider_kind=ProviderKind.ORGANIZATION))
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert "ordering-provider-not-individual" in codes(d.pend_reasons)


def test_an_out_of_network_ordering_provider_gets_no_s_codes():
    d = run(order(*thp(), biomarkers=[her2()], provider_network=NetworkStatus.OUT_OF_NETWORK))
    assert d.case_status is CaseStatus.AUTHORIZED and d.on_pathway
    assert d.s_codes == ()
    assert "out-of-network" in codes(d.notices)


# ----------------------------------------------------------------- R15 S-codes, R16 figures
def test_s0354_covers_the_planned_cycles_of_a_fixed_regimen():
    d = run(order(line("doxorubicin", cycle_length_days=21), line("cyclophosphamide", cycle_length_days=21),
                  setting=Setting.ADJUVANT, stage="IIA"))
    s0353, s0354 = d.s_codes
    assert (s0353.valid_from, s0353.valid_to, s0353.max_units) == (date(2026, 11, 20), date(2026, 11, 20), 1)
    # 4 cycles x 21 d: the last administration is day 64, 2027-01-22 (the course ends there);
    # S0354 from day 30, one whole month
    assert (s0354.valid_from, s0354.valid_to, s0354.max_units) == (date(2026, 12, 20), date(2027, 1, 22), 1)


def test_a_fixed_regimen_shorter_than_two_months_gets_s0353_only():
    d = run(order(line("doxorubicin"), line("cyclophosphamide"), setting=Setting.ADJUVANT, stage="IIA"))
    assert [s.code for s in d.s_codes] == ["S0353"]   # 4 x 14 d ends before a month of S0354 fits


def test_s0354_for_an_indefinite_regimen_is_at_most_six_months():
    d = run(order(*thp(), biomarkers=[her2()]))
    s0354 = next(s for s in d.s_codes if s.code == "S0354")
    assert s0354.valid_from == date(2026, 12, 20) and s0354.valid_to == date(2027, 5, 19)
    assert s0354.max_units == 5


def test_s0353_is_not_repeated_when_already_awarded_for_the_regimen():
    prior = PriorCase("ORD-7", "req-0", "Completed", frozenset({"trastuzumab"}), date(2026, 5, 1),
                      date(2026, 10, 31), regimen_id="breast-her2-met-thp", s0353_awarded_on=date(2026, 5, 1))
    d = run(order(*thp(), biomarkers=[her2()]), History((prior,)))
    assert [s.code for s in d.s_codes] == ["S0354"]
    assert d.s_codes[0].valid_from == date(2026, 11, 20)


def test_authorized_drugs_carry_dates_visits_hcpcs_and_billing_units():
    d = run(order(line("docetaxel", dose=75, dose_unit="mg/m2"), line("trastuzumab", quantity=84),
                  line("pertuzumab", dose=420, dose_unit="mg"), biomarkers=[her2()]))
    doce, tz, pz = d.drugs
    assert (doce.hcpcs, doce.visits, doce.billing_units) == ("J9171", 6, None)
    assert (tz.authorized_from, tz.authorized_to) == (date(2026, 11, 20), date(2027, 5, 19))
    assert tz.billing_units == 84.0
    assert (pz.hcpcs, pz.visits, pz.billing_units) == ("J9306", 9, 420.0 * 9)


# ----------------------------------------------------------------- R19, R20
def test_osimertinib_for_egfr_l858r_gets_the_precision_benefit():
    d = run(order(line("osimertinib"), cancer="nsclc", biomarkers=[marker("EGFR", variant="L858R")]))
    assert d.on_pathway
    assert [(p.drug_key, p.biomarker) for p in d.precision_benefits] == [("osimertinib", "EGFR")]
    assert statuses(d)["osimertinib"] is DrugStatus.OTHER_IMPACT


def test_egfr_positive_with_an_unlisted_variant_is_off_the_osimertinib_pathway():
    d = run(order(line("osimertinib"), cancer="nsclc", biomarkers=[marker("EGFR", variant="exon 20 insertion")]))
    assert not d.on_pathway and d.precision_benefits == ()


def test_an_actionable_biomarker_without_a_pathway_points_to_a_trial_arm():
    d = run(order(line("pembrolizumab"), cancer="melanoma", biomarkers=[marker("BRAF", variant="V600E")]))
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert [(t.nct_id, t.arm) for t in d.trial_pointers] == [("NCT02465060", "H")]


def test_no_trial_pointer_when_an_on_pathway_option_exists():
    d = run(order(*thp(), biomarkers=[her2(), marker("BRAF", variant="V600E")]))
    assert d.trial_pointers == ()


# ----------------------------------------------------------------- helpers
def test_biomarker_criteria_are_three_valued():
    o = order(biomarkers=[marker("PDL1_TPS", value=40), marker("BRAF", variant="V600K"), her2("unknown")])
    assert biomarker_holds(BiomarkerCriterion("PDL1_TPS", min_value=50), o) is False
    assert biomarker_holds(BiomarkerCriterion("PDL1_TPS", min_value=1), o) is True
    assert biomarker_holds(BiomarkerCriterion("BRAF", variants=("V600E",)), o) is False
    assert biomarker_holds(BiomarkerCriterion("BRAF", variants=("v600",)), o) is True
    assert biomarker_holds(BiomarkerCriterion("HER2"), o) is None
    assert biomarker_holds(BiomarkerCriterion("ALK"), o) is None


def test_business_day_and_month_arithmetic():
    assert business_days_after(date(2026, 11, 13), date(2026, 11, 16)) == 1   # Fri -> Mon
    assert business_days_after(date(2026, 11, 10), date(2026, 11, 16)) == 4
    assert add_business_days(datetime(2026, 11, 21, 8), 3) == datetime(2026, 11, 25, 8)  # Sat -> Wed
    assert whole_months(date(2026, 12, 20), date(2027, 5, 19)) == 5


def test_matching_uses_the_index_not_a_scan_of_all_pathways():
    kb = fake_knowledge()
    calls = []
    original = kb.regimens_with
    object.__setattr__(kb, "regimens_with", lambda c, s: calls.append((c, s)) or original(c, s))
    decide(order(*thp(), biomarkers=[her2()]), kb, History())
    assert calls == [("breast", frozenset({"docetaxel", "trastuzumab", "pertuzumab"}))]


def test_a_reported_risk_factor_outside_the_program_list_does_not_justify_a_growth_factor():
    d = run(order(line("doxorubicin", cycle_length_days=21), line("cyclophosphamide", cycle_length_days=21),
                  line("pegfilgrastim"), setting=Setting.ADJUVANT, stage="IIA", birth=date(1980, 1, 1),
                  fn_risk_factors=frozenset({"likes-coffee"})))
    assert any(x.kind is DeviationKind.FN_RISK for x in d.deviations)
    assert any("likes-coffee" in t.text for t in d.trace if t.rule == "R6")


def test_a_growth_factor_tagged_therapeutic_does_not_break_the_regimen_match():
    d = run(order(*thp(), line("pegfilgrastim", role=DrugRole.THERAPEUTIC), biomarkers=[her2()]))
    assert d.pathway.regimen_id == "breast-her2-met-thp" and d.on_pathway
    assert any("supportive-type drugs counted by their role" in t.text for t in d.trace)


def test_a_lone_growth_factor_tagged_therapeutic_is_still_a_supportive_only_request():
    d = run(order(line("pegfilgrastim", role=DrugRole.THERAPEUTIC)))
    assert d.drug("MedicationRequest/pegfilgrastim").reasons[0].code == "supportive-only"
    assert not any(x.kind is DeviationKind.CUSTOM_TREATMENT_PLAN for x in d.deviations)


def test_a_missing_diagnosis_pends_instead_of_passing_as_not_oncology():
    o = order(*thp(), biomarkers=[her2()])
    d = run(replace(o, diagnosis=replace(o.diagnosis, codes=())))
    assert d.in_program and d.case_status is CaseStatus.IN_PROGRESS
    assert "diagnosis-not-classified" in codes(d.pend_reasons)
    assert set(statuses(d).values()) == {DrugStatus.IN_PROGRESS}


def test_a_snomed_only_diagnosis_outside_the_knowledge_base_pends():

    from server.domain.order import Code
    from server.knowledge.model import SNOMED
    o = order(line("carboplatin"))
    d = run(replace(o, diagnosis=replace(o.diagnosis, codes=(Code(SNOMED, "363443007"),))))
    assert d.in_program and "diagnosis-not-classified" in codes(d.pend_reasons)


def test_non_drug_services_without_a_diagnosis_are_not_managed():

    from server.domain.order import Code, DrugLine
    from server.knowledge.model import HCPCS
    o = order(DrugLine(ref="item/1", codes=(Code(HCPCS, "G0154"),)),
              DrugLine(ref="item/2", codes=(Code(HCPCS, "B4184"),)))
    d = run(replace(o, diagnosis=replace(o.diagnosis, codes=())))
    assert not d.in_program and d.case_status is CaseStatus.COMPLETED
    assert d.program_reason.code == "not-oncology-drug-request" and "health plan" in d.program_reason.text
    assert set(statuses(d).values()) == {DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED}

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
