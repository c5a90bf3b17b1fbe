"""Issue 12: medical policy at label depth, and an evidence model that never approves on missing
or failed criteria. Every example of the issue, on the bundled knowledge base."""
from __future__ import annotations

import re

from dataclasses import replace
from datetime import date

import pytest

from server.domain.decision import CaseStatus, DrugStatus
from server.domain.order import Biomarker, BiomarkerResult, Code, DrugLine, LineOfBusiness, LineOfTherapy, Setting
from server.engine import decide
from server.engine.aggregate import case_status_of
from server.engine.criteria import variant_matches
from server.knowledge.model import HCPCS, ICD10CM, RXNORM

from server.knowledge.loader import load_knowledge
from test_engine_scenarios import bm, order, rx

# label depth is tested on the bundled knowledge base as it is, verification tags included
KB = load_knowledge()

A, IP, OI = DrugStatus.AUTHORIZED, DrugStatus.IN_PROGRESS, DrugStatus.OTHER_IMPACT
ICDO = "http://terminology.hl7.org/CodeSystem/icd-o-3"
ADENO, SQUAMOUS, SMALL_CELL = Code(ICDO, "8140/3"), Code(ICDO, "8070/3"), Code(ICDO, "8041/3")
NO_DRIVER = [bm("EGFR", "negative"), bm("ALK", "negative")]


def nsclc(*drugs, histology=ADENO, biomarkers=(), **kw):
    o = order(*drugs, cancer="nsclc", biomarkers=biomarkers, **kw)
    return replace(o, diagnosis=replace(o.diagnosis, histology=(histology,) if histology else ()))


def status(d):
    return {x.drug_key or x.display: x.status for x in d.drugs}


def reasons(d, key):
    return " | ".join(r.text for x in d.drugs if (x.drug_key or x.display) == key for r in x.reasons)


def tps(value=None, result="positive", **kw):
    return bm("PDL1_TPS", result, value=value, unit="%" if value is not None else None, method="IHC", **kw)


# ------------------------------------------------------------------ pembrolizumab monotherapy
def test_pembrolizumab_alone_for_nsclc_with_pdl1_tps_zero_pends_naming_the_threshold():
    d = decide(nsclc(rx("pembrolizumab"), biomarkers=[tps(0, "negative"), *NO_DRIVER]), KB)
    assert d.case_status is CaseStatus.IN_PROGRESS and status(d) == {"pembrolizumab": IP}
    assert "PDL1_TPS positive by IHC >= 1; reported PDL1_TPS negative 0 %" in reasons(d, "pembrolizumab")
    assert d.pathway is None or d.pathway.pathway_eligible_id is None


def test_pembrolizumab_alone_with_egfr_l858r_pends_even_with_high_pdl1():
    d = decide(nsclc(rx("pembrolizumab"), biomarkers=[tps(80), bm("EGFR", variant="L858R"),
                                                      bm("ALK", "negative")]), KB)
    assert status(d) == {"pembrolizumab": IP}
    assert "not EGFR positive; reported EGFR positive (L858R)" in reasons(d, "pembrolizumab")
    assert not d.on_pathway and d.s_codes == ()


def test_pembrolizumab_alone_with_tps_80_and_no_driver_is_authorized_on_pathway():
    d = decide(nsclc(rx("pembrolizumab"), biomarkers=[tps(80), *NO_DRIVER]), KB)
    assert d.case_status is CaseStatus.AUTHORIZED and d.on_pathway
    assert d.pathway.regimen_id == "nsclc-pdl1-pembrolizumab"


def test_pdl1_reported_positive_without_a_number_is_unknown_for_a_threshold():
    d = decide(nsclc(rx("pembrolizumab"), biomarkers=[tps(None, "positive"), *NO_DRIVER]), KB)
    assert status(d) == {"pembrolizumab": IP}
    assert "reported without a number" in reasons(d, "pembrolizumab")
    assert d.pathway is None or d.pathway.pathway_eligible_id is None
    assert any(s.rule == "R4" and "unknown" in s.text and "PDL1_TPS" in s.text for s in d.trace)


def test_atezolizumab_monotherapy_with_pdl1_positive_without_a_number_is_not_on_pathway():
    d = decide(nsclc(rx("atezolizumab"), biomarkers=[tps(None, "positive"), *NO_DRIVER]), KB)
    assert status(d) == {"atezolizumab": IP} and d.pathway_eligible_id is None if hasattr(d, "pathway_eligible_id") \
        else d.pathway is None or d.pathway.pathway_eligible_id is None


def test_a_quantitative_tps_is_used_over_a_qualitative_one_and_the_trace_names_the_observation():
    readings = [tps(None, "positive", source_ref="Observation/tps-qual", effective="2026-11-01"),
                tps(0, "negative", source_ref="Observation/tps-0", effective="2026-10-01"), *NO_DRIVER]
    d = decide(nsclc(rx("pembrolizumab"), biomarkers=readings), KB)
    assert status(d) == {"pembrolizumab": IP}          # 0 % does not meet >= 1, whatever "positive" says
    assert any("Observation/tps-0" in s.text and "quantitative result preferred" in s.text for s in d.trace)


def test_pembrolizumab_alone_with_tps_between_1_and_49_is_authorized_under_policy_but_off_pathway():
    d = decide(nsclc(rx("pembrolizumab"), biomarkers=[tps(20), *NO_DRIVER]), KB)
    assert status(d) == {"pembrolizumab": A}
    assert d.pathway is None and d.s_codes == ()


# ------------------------------------------------------------------ combinations and pathways
def cpp(**kw):
    return (rx("carboplatin"), rx("paclitaxel"), rx("pembrolizumab"))


def test_carboplatin_paclitaxel_pembrolizumab_with_egfr_exon19_deletion_is_not_on_the_squamous_pathway():
    d = decide(nsclc(*cpp(), histology=SQUAMOUS, biomarkers=[
        bm("EGFR", variant="p.Glu746_Ala750del", protein_hgvs="p.Glu746_Ala750del", exon=19,
           variant_type="deletion"), bm("ALK", "negative")]), KB)
    assert d.pathway is None and d.s_codes == ()
    assert any(n.code == "off-pathway" for n in d.notices)
    assert d.alternatives, "on-pathway alternatives are offered"
    assert "nsclc-egfr-osimertinib" in {a.regimen_id for a in d.alternatives}


def test_squamous_regimen_for_an_adenocarcinoma_is_off_pathway_and_pends_on_policy():
    d = decide(nsclc(*cpp(), histology=ADENO, biomarkers=NO_DRIVER), KB)
    assert d.pathway is None and d.s_codes == ()
    assert status(d)["pembrolizumab"] is IP and status(d)["paclitaxel"] is IP


def test_pemetrexed_for_squamous_histology_pends():
    d = decide(nsclc(rx("carboplatin"), rx("pemetrexed"), rx("pembrolizumab"), histology=SQUAMOUS,
                     biomarkers=NO_DRIVER), KB)
    assert status(d)["pemetrexed"] is IP
    assert "histology nonsquamous; histology squamous" in reasons(d, "pemetrexed")
    assert d.pathway is None and d.s_codes == ()


def test_pemetrexed_with_unknown_histology_pends():
    d = decide(nsclc(rx("carboplatin"), rx("pemetrexed"), rx("pembrolizumab"), histology=None,
                     biomarkers=NO_DRIVER), KB)
    assert status(d)["pemetrexed"] is IP and "histology not reported" in reasons(d, "pemetrexed")


def test_carboplatin_pemetrexed_pembrolizumab_for_nonsquamous_without_driver_is_authorized_on_pathway():
    d = decide(nsclc(rx("carboplatin"), rx("pemetrexed"), rx("pembrolizumab"), biomarkers=NO_DRIVER), KB)
    assert d.case_status is CaseStatus.AUTHORIZED and set(status(d).values()) == {A}
    assert d.on_pathway and d.pathway.regimen_id == "nsclc-nonsq-platinum-pemetrexed-pembrolizumab"


def test_bevacizumab_for_squamous_nsclc_pends():
    d = decide(nsclc(rx("carboplatin"), rx("paclitaxel"), rx("bevacizumab"), histology=SQUAMOUS,
                     biomarkers=NO_DRIVER), KB)
    assert status(d)["bevacizumab"] is IP
    assert "histology nonsquamous; histology squamous" in reasons(d, "bevacizumab")


def test_low_fn_risk_pegfilgrastim_does_not_pend_carboplatin_pemetrexed_pembrolizumab_that_meet_policy():
    d = decide(nsclc(rx("carboplatin"), rx("pemetrexed"), rx("pembrolizumab"), rx("pegfilgrastim"),
                     biomarkers=NO_DRIVER), KB)
    s = status(d)
    assert (s["carboplatin"], s["pemetrexed"], s["pembrolizumab"]) == (A, A, A)
    assert s["pegfilgrastim"] is IP and "low FN-risk" in reasons(d, "pegfilgrastim")
    assert d.case_status is CaseStatus.IN_PROGRESS     # the case stays open for the growth factor


def test_an_oral_drug_added_to_a_managed_regimen_does_not_change_the_managed_drugs_answer():
    base = decide(nsclc(rx("carboplatin"), rx("pemetrexed"), rx("pembrolizumab"), biomarkers=NO_DRIVER), KB)
    with_oral = decide(nsclc(rx("carboplatin"), rx("pemetrexed"), rx("pembrolizumab"), rx("olaparib"),
                             biomarkers=NO_DRIVER), KB)
    assert {k: v for k, v in status(with_oral).items() if k != "olaparib"} == status(base)
    assert status(with_oral)["olaparib"] is OI


# ------------------------------------------------------------------ cancer type by histology / ICD
def test_small_cell_histology_under_c34_is_not_nsclc():
    # C34 with small-cell histology is small-cell lung cancer (cancer type sclc, issue 14), where
    # carboplatin + pemetrexed + pembrolizumab is on no pathway
    d = decide(nsclc(rx("carboplatin"), rx("pemetrexed"), rx("pembrolizumab"), histology=SMALL_CELL,
                     biomarkers=NO_DRIVER), KB)
    assert d.cancer_type == "sclc" and d.case_status is CaseStatus.IN_PROGRESS and d.pathway is None
    assert not any("cancer type nsclc" in s.text for s in d.trace)


def test_c25_4_pancreatic_neuroendocrine_is_not_pancreatic_adenocarcinoma():
    o = order(rx("gemcitabine"), rx("nab-paclitaxel"), cancer="pancreatic")
    o = replace(o, diagnosis=replace(o.diagnosis, codes=(Code(ICD10CM, "C25.4"),)))
    d = decide(o, KB)
    # issue 14: C25.4 (endocrine pancreas) is the gastroenteropancreatic NET type, whose pathways do not
    # list gemcitabine + nab-paclitaxel
    assert d.cancer_type != "pancreatic" and d.case_status is CaseStatus.IN_PROGRESS and d.pathway is None
    assert KB.cancer_type_for((Code(ICD10CM, "C25.4"),)).key == "neuroendocrine"
    assert KB.cancer_type_for((Code(ICD10CM, "C25.0"),)).key == "pancreatic"


# ------------------------------------------------------------------ supportive restrictions
def test_esa_with_curative_intent_chemotherapy_pends_naming_the_intent():
    d = decide(order(rx("oxaliplatin"), rx("leucovorin"), rx("fluorouracil"), rx("epoetin-alfa"),
                     cancer="colorectal", setting=Setting.ADJUVANT, stage="III"), KB)
    assert status(d)["epoetin-alfa"] is IP
    assert "not with curative-intent chemotherapy" in reasons(d, "epoetin-alfa")
    # the pended supportive drug does not hold back the adjuvant FOLFOX that meets policy
    assert {status(d)[k] for k in ("oxaliplatin", "leucovorin", "fluorouracil")} == {A}


def test_esa_never_authorizes_at_once_because_its_source_is_unverified():
    d = decide(order(*[rx(k) for k in ("docetaxel", "trastuzumab", "pertuzumab")], rx("epoetin-alfa"),
                     biomarkers=[bm("HER2")]), KB)
    assert status(d)["epoetin-alfa"] is IP and "unverified knowledge" in reasons(d, "epoetin-alfa")


def test_bone_agent_without_bone_disease_pends():
    d = decide(order(*[rx(k) for k in ("docetaxel", "trastuzumab", "pertuzumab")], rx("denosumab"),
                     biomarkers=[bm("HER2")]), KB)
    assert status(d)["denosumab"] is IP and "bone metastases" in reasons(d, "denosumab")
    assert status(d)["trastuzumab"] is A


def test_bone_agent_with_bone_metastases_is_authorized():
    o = order(*[rx(k) for k in ("docetaxel", "trastuzumab", "pertuzumab")], rx("zoledronic-acid"),
              biomarkers=[bm("HER2")])
    o = replace(o, diagnosis=replace(o.diagnosis, metastatic_sites=(Code(ICD10CM, "C79.51"),)))
    assert status(decide(o, KB))["zoledronic-acid"] is A


# ------------------------------------------------------------------ lines, stages, settings
def test_adc_labelled_after_prior_therapy_ordered_first_line_pends():
    d = decide(order(rx("fam-trastuzumab-deruxtecan"), biomarkers=[bm("HER2")], line=LineOfTherapy.FIRST), KB)
    assert status(d) == {"fam-trastuzumab-deruxtecan": IP}
    assert "after prior therapy; ordered as line 1L" in reasons(d, "fam-trastuzumab-deruxtecan")


def test_adc_after_prior_therapy_in_second_line_is_authorized():
    d = decide(order(rx("fam-trastuzumab-deruxtecan"), biomarkers=[bm("HER2")], line=LineOfTherapy.SECOND), KB)
    assert status(d) == {"fam-trastuzumab-deruxtecan": A}


def test_sacituzumab_needs_two_prior_lines():
    tnbc = [bm("ER", "negative"), bm("PR", "negative"), bm("HER2", "negative")]
    assert status(decide(order(rx("sacituzumab-govitecan"), biomarkers=tnbc, line=LineOfTherapy.SECOND), KB)) \
        == {"sacituzumab-govitecan": IP}
    assert status(decide(order(rx("sacituzumab-govitecan"), biomarkers=tnbc, line=LineOfTherapy.THIRD_PLUS),
                         KB)) == {"sacituzumab-govitecan": A}


def test_adjuvant_pembrolizumab_outside_the_labelled_stages_pends():
    d = decide(order(rx("pembrolizumab"), cancer="melanoma", setting=Setting.ADJUVANT, stage="IIA"), KB)
    assert status(d) == {"pembrolizumab": IP}
    assert "stage IIB or IIC or III; stage IIA" in reasons(d, "pembrolizumab")
    ok = decide(order(rx("pembrolizumab"), cancer="melanoma", setting=Setting.ADJUVANT, stage="IIIB"), KB)
    assert status(ok) == {"pembrolizumab": A}


@pytest.mark.parametrize("drug", ["cetuximab", "panitumumab"])
def test_anti_egfr_antibodies_need_the_metastatic_setting_and_ras_wild_type(drug):
    # issue 14, the labels as read (MOAlmanac): cetuximab with FOLFIRI for K-Ras wild-type, EGFR-expressing
    # mCRC; panitumumab with FOLFOX for wild-type RAS mCRC, first line
    ras_wt = [bm("KRAS", "negative"), bm("NRAS", "negative"), bm("BRAF", "negative"), bm("EGFR_IHC")]
    chemo = ([rx("irinotecan"), rx("leucovorin"), rx("fluorouracil")] if drug == "cetuximab"
             else [rx("oxaliplatin"), rx("leucovorin"), rx("fluorouracil")])
    adjuvant = decide(order(*chemo, rx(drug), cancer="colorectal", setting=Setting.ADJUVANT, stage="III",
                            biomarkers=ras_wt), KB)
    assert status(adjuvant)[drug] is IP and "setting metastatic; reported adjuvant" in reasons(adjuvant, drug)
    metastatic = decide(order(*chemo, rx(drug), cancer="colorectal", biomarkers=ras_wt), KB)
    assert status(metastatic)[drug] is A
    mutated = decide(order(*chemo, rx(drug), cancer="colorectal",
                           biomarkers=[bm("KRAS", variant="G12D"), bm("NRAS", "negative"), bm("EGFR_IHC")]), KB)
    assert status(mutated)[drug] is IP


# ------------------------------------------------------------------ drug identity
def test_j9205_sent_with_the_irinotecan_ingredient_code_is_liposomal_irinotecan_billed_j9205():
    line = DrugLine(ref="MedicationRequest/onivyde", codes=(Code(RXNORM, "51499", "irinotecan"), Code(HCPCS, "J9205")),
                    display="irinotecan liposome")
    d = decide(order(line, rx("oxaliplatin"), rx("leucovorin"), rx("fluorouracil"), cancer="pancreatic"), KB)
    (onivyde,) = [x for x in d.drugs if x.ref == "MedicationRequest/onivyde"]
    assert (onivyde.drug_key, onivyde.hcpcs) == ("irinotecan-liposome", "J9205")
    assert any("formulation-specific HCPCS J9205" in s.text for s in d.trace)


def test_j9264_sent_with_the_paclitaxel_ingredient_code_is_nab_paclitaxel():
    line = DrugLine(ref="MedicationRequest/nabp", codes=(Code(RXNORM, "56946", "paclitaxel"), Code(HCPCS, "J9264")))
    d = decide(order(line, rx("gemcitabine"), cancer="pancreatic"), KB)
    (nabp,) = [x for x in d.drugs if x.ref == "MedicationRequest/nabp"]
    assert (nabp.drug_key, nabp.hcpcs) == ("nab-paclitaxel", "J9264")


def test_two_different_products_on_one_line_pend_as_a_conflict():
    line = DrugLine(ref="MedicationRequest/x", codes=(Code(RXNORM, "224905"), Code(HCPCS, "J9171")))
    d = decide(order(line, biomarkers=[bm("HER2")]), KB)
    (x,) = d.drugs
    assert x.status is IP and any(r.code == "drug-codes-conflict" for r in x.reasons)
    assert "trastuzumab" in x.reasons[0].text and "docetaxel" in x.reasons[0].text


def test_an_unlisted_antineoplastic_j9999_for_a_cancer_diagnosis_pends_not_in_the_knowledge_base():
    # Issue #12's example drug, enfortumab vedotin (J9177), is in the knowledge base since issue 14
    # (drugs/gugyn.yaml); tisotumab vedotin, billed J9999 "Not otherwise classified, antineoplastic
    # drugs" (CMS HCPCS 2020 [V]; NC Medicaid PADP bulletin 2021 [V2]), is not.
    line = DrugLine(ref="MedicationRequest/tv", codes=(Code(HCPCS, "J9999"),), display="tisotumab vedotin",
                    route="IV")
    o = order(line, cancer="breast")
    o = replace(o, diagnosis=replace(o.diagnosis, codes=(Code(ICD10CM, "C67.9"),)))
    d = decide(o, KB)
    assert d.case_status is CaseStatus.IN_PROGRESS and d.in_program
    assert d.drugs[0].status is IP and "not in the knowledge base" in d.drugs[0].reasons[0].text
    assert KB.is_anticancer_code(Code(HCPCS, "J9999")) and not KB.is_anticancer_code(Code(HCPCS, "J2505"))
    assert KB.drug_for(Code(HCPCS, "J9177")).key == "enfortumab-vedotin"


# ------------------------------------------------------------------ biomarkers and variants
def test_cd20_positive_r_chop_is_authorized():
    drugs = [rx(k) for k in ("rituximab", "cyclophosphamide", "doxorubicin", "vincristine")]
    d = decide(order(*drugs, cancer="dlbcl", setting=Setting.UNKNOWN, stage="II", biomarkers=[bm("CD20")]), KB)
    assert d.case_status is CaseStatus.AUTHORIZED and d.on_pathway


@pytest.mark.parametrize("spec,reading,expected", [
    ("exon 19 deletion", Biomarker("EGFR", BiomarkerResult.POSITIVE, protein_hgvs="p.Glu746_Ala750del", exon=19,
                                   variant_type="deletion"), True),
    ("exon 19 deletion", Biomarker("EGFR", BiomarkerResult.POSITIVE, variant="exon 19 deletion"), True),
    ("exon 19 deletion", Biomarker("EGFR", BiomarkerResult.POSITIVE, protein_hgvs="p.Leu858Arg"), False),
    ("L858R", Biomarker("EGFR", BiomarkerResult.POSITIVE, protein_hgvs="p.Leu858Arg"), True),
    ("L858R", Biomarker("EGFR", BiomarkerResult.POSITIVE, variant="L858R"), True),
    ("L858R", Biomarker("EGFR", BiomarkerResult.POSITIVE, variant="L858Q"), False),
    ("V600", Biomarker("BRAF", BiomarkerResult.POSITIVE, variant="V600K"), True),
    ("V600E", Biomarker("BRAF", BiomarkerResult.POSITIVE, variant="V600K"), False),
    ("V600E", Biomarker("BRAF", BiomarkerResult.POSITIVE), None),
    # not substring matching: "exon 19 deletion" does not match an exon 19 insertion's text
    ("exon 19 deletion", Biomarker("EGFR", BiomarkerResult.POSITIVE, variant="exon 19 insertion"), False),
    # a fusion label: a fusion reading meets it, a point mutation does not, no detail is unknown
    ("fusion", Biomarker("RET", BiomarkerResult.POSITIVE, variant="KIF5B-RET fusion", variant_type="fusion"), True),
    ("fusion", Biomarker("RET", BiomarkerResult.POSITIVE, protein_hgvs="p.Met918Thr"), False),
    ("fusion", Biomarker("RET", BiomarkerResult.POSITIVE), None),
    # a named alteration (Vanflyta: "FLT3 internal tandem duplication (ITD)"): its name or the label's
    # abbreviation as a word; a TKD substitution is not it; "ITD" inside another word is not it
    ("internal tandem duplication", Biomarker("FLT3", BiomarkerResult.POSITIVE, variant="FLT3-ITD"), True),
    ("internal tandem duplication", Biomarker("FLT3", BiomarkerResult.POSITIVE,
                                               variant="Internal Tandem Duplication, exon 14"), True),
    ("internal tandem duplication", Biomarker("FLT3", BiomarkerResult.POSITIVE, protein_hgvs="p.Asp835Tyr"), False),
    ("internal tandem duplication", Biomarker("FLT3", BiomarkerResult.POSITIVE, variant="ITDX"), None),
    ("internal tandem duplication", Biomarker("FLT3", BiomarkerResult.POSITIVE), None),
])
def test_variants_are_matched_structurally(spec, reading, expected):
    assert variant_matches(spec, reading) is expected


# ------------------------------------------------------------------ eligibility and case status
def test_medicare_advantage_plus_medicaid_is_dual_eligible_outside_the_program():
    o = order(rx("docetaxel"), rx("trastuzumab"), rx("pertuzumab"), biomarkers=[bm("HER2")])
    o = replace(o, member=replace(o.member, coverages=(LineOfBusiness.MEDICARE_ADVANTAGE, LineOfBusiness.MEDICAID)))
    d = decide(o, KB)
    assert not d.in_program and d.program_reason.code == "member-not-in-program"
    assert "Dual-eligible" in d.program_reason.text
    assert {x.status for x in d.drugs} == {DrugStatus.REFER_TO_HEALTH_PLAN}


def test_the_review_transitions_use_the_one_case_status_function_on_every_small_case():
    import itertools
    from server.engine.transitions import case_status_of as after_review
    from server.domain.decision import DrugDecision
    from server.domain.order import DrugRole
    statuses = [A, IP, DrugStatus.NON_AUTHORIZED, OI, DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED]
    base = order(rx("docetaxel"), rx("pegfilgrastim", role=DrugRole.SUPPORTIVE), rx("trastuzumab"))
    for combo in itertools.product(statuses, repeat=3):
        drugs = [DrugDecision(ref=line.ref, drug_key=line.display, display=line.display, status=st, reasons=())
                 for line, st in zip(base.drugs, combo)]
        assert after_review(drugs, base, KB) is case_status_of(combo, [False, True, False]), combo
    # seed 001: therapy authorized with only the supportive drug denied => Multiple Decisions Rendered;
    # a therapeutic drug denied => Non-Authorized
    assert case_status_of([A, DrugStatus.NON_AUTHORIZED, A], [False, True, False]) is CaseStatus.MULTIPLE_DECISIONS
    assert case_status_of([DrugStatus.NON_AUTHORIZED, A, A], [False, True, False]) is CaseStatus.NON_AUTHORIZED


def test_one_case_status_function_covers_engine_and_reviewer_outcomes():
    NA, CR = DrugStatus.NON_AUTHORIZED, DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED
    assert case_status_of([A, IP]) is CaseStatus.IN_PROGRESS
    assert case_status_of([A, A, OI]) is CaseStatus.AUTHORIZED
    assert case_status_of([NA, NA]) is CaseStatus.NON_AUTHORIZED
    # seed 001: therapy authorized, a supportive drug denied => Multiple Decisions Rendered ...
    assert case_status_of([A, NA], [False, True]) is CaseStatus.MULTIPLE_DECISIONS
    # ... a therapeutic drug denied => the entire case is Non-Authorized
    assert case_status_of([A, NA], [False, False]) is CaseStatus.NON_AUTHORIZED
    assert case_status_of([NA, A], [True, True]) is CaseStatus.NON_AUTHORIZED   # no therapy authorized
    assert case_status_of([A, NA]) is CaseStatus.MULTIPLE_DECISIONS            # flags unknown: the mix
    assert case_status_of([OI, CR]) is CaseStatus.COMPLETED
    assert case_status_of([A], cancelled=True) is CaseStatus.REVIEW_CANCELLED


def test_the_engine_never_produces_non_authorized():
    d = decide(nsclc(rx("pembrolizumab"), biomarkers=[tps(0, "negative"), *NO_DRIVER]), KB)
    assert d.case_status is not CaseStatus.NON_AUTHORIZED
    assert DrugStatus.NON_AUTHORIZED not in {x.status for x in d.drugs}


def test_every_indication_cites_a_source_and_unverified_ones_say_so():
    for policy in KB.policies.values():
        for ind in policy.indications:
            assert ind.evidence is not None and ind.evidence.source, ind.id
            assert ind.evidence.tag in ("V", "V2", "M")


def test_the_review_json_trace_names_each_criterions_evidence_and_the_indications_source():
    from server.engine.explain import decision_to_dict
    readings = [tps(80, source_ref="Observation/pdl1-1", effective="2026-10-01"),
                bm("EGFR", "negative", source_ref="Observation/egfr-1"), bm("ALK", "negative")]
    data = decision_to_dict(decide(nsclc(rx("pembrolizumab"), biomarkers=readings), KB))
    text = "\n".join(str(step) for step in data["trace"])
    assert "[evidence Observation/pdl1-1 (2026-10-01): PDL1_TPS positive 80 %" in text
    assert "[evidence Observation/egfr-1" in text
    # every indication weighed names its source with the source's verification tag
    assert "source Keytruda USPI" in text
    assert re.search(r"indication pembrolizumab-nsclc-1l-monotherapy-pdl1\); source Keytruda USPI[^']*\[V\]", text)


def test_the_hook_door_routes_an_unknown_j9_chemotherapy_code_to_review_not_to_no_auth():
    from server.hooks.services import is_oncology_order
    draft = {"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
             "medicationCodeableConcept": {"coding": [
                 {"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J9177"}]}}
    assert is_oncology_order(draft, KB) is True
    not_chemo = {**draft, "medicationCodeableConcept": {"coding": [
        {"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "A9999"}]}}
    assert is_oncology_order(not_chemo, KB) is False


def test_an_order_sign_for_an_unlisted_antineoplastic_j9999_with_a_cancer_diagnosis_is_pended_not_no_auth(
        tmp_path, fixtures_dir):
    import json
    from cards.codes import COVERAGE_INFORMATION_URL
    from server.app import create_app
    client = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'j9177.db'}",
                         "CDS_JWT_REQUIRED": False}).test_client()
    req = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    entries = req["context"]["draftOrders"]["entry"]
    ev = entries[0]["resource"]
    ev["medicationCodeableConcept"] = {"coding": [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                                                   "code": "J9999"}], "text": "tisotumab vedotin"}
    req["context"]["draftOrders"]["entry"] = [entries[0]]
    req["hookInstance"] = "j9999-" + req["hookInstance"]
    body = client.post("/cds-services/oncopath-order-sign", json=req).get_json()
    assert body["cards"][0]["summary"].startswith("Pended for review: tisotumab vedotin (J9999) is not on the "
                                                  "program's drug list")
    for action in body.get("systemActions", []):
        ext = next(x for x in action["resource"]["extension"] if x["url"] == COVERAGE_INFORMATION_URL)
        assert all(e.get("valueCode") != "no-auth" for e in ext["extension"])


def test_a_negative_blood_result_is_not_final_where_the_criterion_prefers_tissue():
    from server.engine.criteria import evaluate_biomarker
    from server.knowledge.model import BiomarkerCriterion
    crit = BiomarkerCriterion("EGFR", prefer_tissue=True)
    blood_neg = bm("EGFR", "negative", specimen="blood", source_ref="Observation/ctdna")
    tissue_pos = bm("EGFR", variant="L858R", specimen="tissue", source_ref="Observation/tissue")
    held, used, note = evaluate_biomarker(crit, nsclc(rx("pembrolizumab"), biomarkers=[blood_neg]))
    assert held is None and "tissue" in note
    held, used, note = evaluate_biomarker(crit, nsclc(rx("pembrolizumab"), biomarkers=[blood_neg, tissue_pos]))
    assert held is True and used.source_ref == "Observation/tissue" and "tissue result preferred" in note


def test_the_most_recent_definitive_reading_wins_among_several():
    from server.engine.criteria import evaluate_biomarker
    from server.knowledge.model import BiomarkerCriterion
    old = bm("HER2", "negative", effective="2025-01-01", source_ref="Observation/old")
    new = bm("HER2", "positive", effective="2026-10-01", source_ref="Observation/new")
    equivocal = bm("HER2", "equivocal", effective="2026-11-01", source_ref="Observation/ihc2")
    held, used, _ = evaluate_biomarker(BiomarkerCriterion("HER2"), order(biomarkers=[old, equivocal, new]))
    assert held is True and used.source_ref == "Observation/new"


def test_a_drug_labelled_with_a_partner_pends_when_the_partner_is_missing():
    d = decide(order(rx("docetaxel"), rx("pertuzumab"), biomarkers=[bm("HER2")]), KB)
    assert status(d)["pertuzumab"] is IP
    assert "given with trastuzumab; no trastuzumab on the request" in reasons(d, "pertuzumab")


def test_an_indication_evaluated_without_the_regimen_never_meets_a_partner_criterion():
    from server.engine.policy import evaluate_indication
    ind = next(i for i in KB.indications_for("pertuzumab", "breast") if i.partners)
    result = evaluate_indication(ind, "breast", order(rx("pertuzumab"), biomarkers=[bm("HER2")]), KB)
    assert result.status is None

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit


# ------------------------------------------------------------------ performance status (issue 14)
def _folfirinox_indication():
    return next(i for i in KB.policies["oxaliplatin"].indications if i.id == "oxaliplatin-pancreatic")


def test_an_indication_limited_to_the_trials_ecog_0_1_is_met_at_ecog_1_failed_at_ecog_2_and_unknown_unreported():
    from server.engine.policy import evaluate_indication
    ind = _folfirinox_indication()
    assert ind.ecog_max == 1 and ind.verified          # PRODIGE 4 enrolled ECOG 0-1
    base = order(rx("oxaliplatin"), rx("irinotecan"), rx("leucovorin"), rx("fluorouracil"), cancer="pancreatic")

    def ecog_check(ecog):
        result = evaluate_indication(ind, "pancreatic", replace(base, ecog=ecog), KB)
        return next(c for c in result.checks if c.what == "performance status")
    assert ecog_check(1).status is True
    assert ecog_check(2).status is False and "reported ECOG 2" in ecog_check(2).reported
    assert ecog_check(None).status is None and "not reported" in ecog_check(None).reported


def test_a_maintenance_indication_needs_its_induction_drug_in_the_records_completed_treatment():
    from server.domain.order import Code
    from server.engine.policy import evaluate_indication
    ind = next(i for i in KB.policies["lurbinectedin"].indications
               if i.id == "lurbinectedin-sclc-extensive-maintenance-with-atezolizumab")
    assert ind.after_drugs == (("atezolizumab",),)
    atezolizumab = Code(RXNORM, KB.drugs["atezolizumab"].rxnorm[0])
    carboplatin = Code(RXNORM, KB.drugs["carboplatin"].rxnorm[0])
    base = order(rx("lurbinectedin"), rx("atezolizumab"), cancer="nsclc")   # the check reads only the record's prior drugs

    def prior_check(*codes):
        result = evaluate_indication(ind, "sclc", replace(base, prior_medications=codes), KB)
        return next(c for c in result.checks if c.what == "prior drugs")
    assert prior_check(carboplatin, atezolizumab).status is True
    missing = prior_check(carboplatin)
    assert missing.status is None and "prior carboplatin" in missing.reported   # unknown: a clinician reviews
    assert prior_check().status is None and "no prior cancer drug" in prior_check().reported


# ------------------------------------------------------------------ prior-line ceilings
def test_one_to_three_prior_lines_is_met_second_line_and_left_to_a_clinician_third_line_or_later():
    from server.engine.policy import evaluate_indication
    ind = next(i for i in KB.policies["elotuzumab"].indications if i.id == "elotuzumab-myeloma-rd-relapsed")
    assert (ind.after_prior, ind.max_prior) == (1, 3) and ind.verified

    def ceiling(line):
        o = order(rx("elotuzumab"), cancer="nsclc", line=line)    # the check reads only the line of therapy
        result = evaluate_indication(ind, "myeloma", o, KB)
        return next(c for c in result.checks if c.what == "prior lines")
    assert ceiling(LineOfTherapy.SECOND).status is True
    later = ceiling(LineOfTherapy.THIRD_PLUS)
    assert later.status is None and "number of prior lines not reported" in later.reported
    assert ceiling(LineOfTherapy.UNKNOWN).status is None


def test_a_ceiling_of_one_prior_line_fails_third_line_or_later():
    from server.engine.policy import _max_prior
    o = order(rx("elotuzumab"), cancer="nsclc", line=LineOfTherapy.THIRD_PLUS)
    assert _max_prior(1, o).status is False and _max_prior(2, o).status is None


# ------------------------------------------------------------------ pathway stage groups
def test_the_stage_three_consolidation_pathways_check_the_stage_group():
    from server.engine.criteria import pathway_checks
    p = next(p for p in KB.pathways if p.id == "nsclc-stage3-consolidation")
    assert p.stages == ("III",)

    def stage(group):
        return next(c for c in pathway_checks(p, nsclc(rx("durvalumab"), stage=group), KB) if c.what == "stage")
    assert stage("IIIB").status is True
    assert stage("IV").status is False and "stage IV" in stage("IV").reported
    assert stage(None).status is None
