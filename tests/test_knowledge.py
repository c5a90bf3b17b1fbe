"""The pathway knowledge base: bundled data loads, is complete, and broken data fails loudly."""
from __future__ import annotations

import re

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from server.domain.decision import Benefit
from server.domain.order import BiomarkerResult, Code, LineOfTherapy, Setting
from server.knowledge.loader import DATA_DIR, KnowledgeError, load_knowledge
from server.knowledge.model import HCPCS, ICD10CM, NDC, RXNORM, SNOMED, FnRisk

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "examples"


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


@pytest.fixture
def data_copy(tmp_path):
    """A writable copy of the bundled data directory."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(path: Path, change) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _regimen(kb, regimen_id):
    return next(r for p in kb.pathways for r in p.regimens if r.id == regimen_id)


def _pathway(kb, pathway_id):
    return next(p for p in kb.pathways if p.id == pathway_id)


# ------------------------------------------------------------------ bundled content


def test_bundled_knowledge_base_covers_44_cancer_types_with_300_regimens(kb):
    # issue 14: the program's 44 most common cancer types, at least 300 regimens
    assert kb.version == "2027.1.6"
    assert sum(1 for c in kb.cancer_types.values() if not c.agnostic) >= 44
    assert len({p.cancer_type for p in kb.pathways}) >= 44
    assert sum(len(p.regimens) for p in kb.pathways) >= 300
    # every pathway file names a known cancer type (issue 14 adds types beyond the original seven)
    assert {p.cancer_type for p in kb.pathways} >= {
        "breast", "nsclc", "colorectal", "melanoma", "myeloma", "dlbcl", "pancreatic"}
    assert {p.cancer_type for p in kb.pathways} <= set(kb.cancer_types)


def test_knowledge_base_was_reviewed_within_a_quarter_of_its_effective_date(kb):
    assert kb.effective <= kb.reviewed
    assert (kb.reviewed - kb.effective).days <= 92


def test_every_managed_drug_has_a_policy_and_a_hcpcs_code_with_a_billing_unit(kb):
    managed = [d for d in kb.drugs.values() if d.managed]
    assert len(managed) >= 40
    for drug in managed:
        assert drug.key in kb.policies, drug.key
        assert drug.hcpcs, drug.key
        assert all(h.unit_amount > 0 and h.unit in ("mg", "mcg", "units") for h in drug.hcpcs), drug.key


def test_pharmacy_benefit_drugs_name_who_reviews_them_and_have_no_medical_policy(kb):
    pharmacy = [d for d in kb.drugs.values() if d.benefit is Benefit.PHARMACY]
    assert {"palbociclib", "osimertinib", "lenalidomide", "capecitabine"} <= {d.key for d in pharmacy}
    for drug in pharmacy:
        assert drug.contact == "Pharmacy benefit manager (PBM)"
        assert drug.key not in kb.policies


def test_trastuzumab_resolves_from_rxnorm_224905_and_hcpcs_j9355_as_a_medical_benefit_drug(kb):
    by_rxnorm = kb.drug_for(Code(RXNORM, "224905"))
    by_hcpcs = kb.drug_for(Code(HCPCS, "J9355"))
    assert by_rxnorm is by_hcpcs
    assert by_rxnorm.key == "trastuzumab"
    assert by_rxnorm.benefit is Benefit.MEDICAL
    assert next(h for h in by_hcpcs.hcpcs if h.code == "J9355").unit_amount == 10
    assert kb.drug_for(Code(HCPCS, "Q5117")).key == "trastuzumab"  # Kanjinti biosimilar


def test_palbociclib_is_a_pharmacy_benefit_drug_found_by_rxnorm_and_ndc(kb):
    drug = kb.drug_for(Code(RXNORM, "1601374"))
    assert drug.key == "palbociclib"
    assert drug.benefit is Benefit.PHARMACY
    assert not drug.managed
    assert kb.drug_for(Code(NDC, "0069-0284-03")).key == "palbociclib"


def test_codes_in_the_official_mcode_examples_resolve_to_drugs(kb):
    # cisplatin is ordered by its SCD code (309311) in the mCODE example MedicationRequest
    assert kb.drug_for(Code(RXNORM, "309311")).key == "cisplatin"
    for code, key in [("3639", "doxorubicin"), ("3002", "cyclophosphamide"), ("56946", "paclitaxel"),
                      ("84857", "anastrozole"), ("1727455", "alectinib"), ("2103164", "lorlatinib")]:
        assert kb.drug_for(Code(RXNORM, code)).key == key
    example = EXAMPLES / "mcode-4.0.0" / "MedicationRequest-cancer-related-medication-request-cisplatin.json"
    if example.exists():
        assert '"309311"' in example.read_text()


def test_unknown_code_resolves_to_no_drug(kb):
    assert kb.drug_for(Code(RXNORM, "0000000")) is None
    assert kb.drug_for(Code(HCPCS, "J9999")) is None


def test_cancer_types_resolve_from_icd10_prefixes_and_mcode_snomed_codes(kb):
    assert kb.cancer_type_for((Code(ICD10CM, "C50.912"),)).key == "breast"
    assert kb.cancer_type_for((Code(ICD10CM, "C90.00"),)).key == "myeloma"
    assert kb.cancer_type_for((Code(ICD10CM, "C83.38"),)).key == "dlbcl"
    assert kb.cancer_type_for((Code(ICD10CM, "C20"),)).key == "colorectal"
    assert kb.cancer_type_for((Code(SNOMED, "353431000119107"),)).key == "breast"
    assert kb.cancer_type_for((Code(SNOMED, "254637007"),)).key == "nsclc"
    assert kb.cancer_type_for((Code(SNOMED, "363418001"),)).key == "pancreatic"
    assert kb.cancer_type_for((Code(ICD10CM, "M06.9"),)) is None


def test_every_regimen_has_a_source_naming_trial_and_label(kb):
    for pathway in kb.pathways:
        assert pathway.source
        for regimen in pathway.regimens:
            assert regimen.source and ";" in regimen.source, regimen.id
            assert "[V" in regimen.source or "[M: unverified]" in regimen.source, regimen.id


def test_fixed_duration_regimens_have_planned_cycles(kb):
    for pathway in kb.pathways:
        for regimen in pathway.regimens:
            if regimen.fixed_duration:
                assert regimen.planned_cycles, regimen.id


def test_fn_risk_factor_vocabulary_matches_the_shared_keys(kb):
    assert kb.fn_risk_factors == {
        "age-65-or-older", "prior-chemotherapy-or-radiation", "persistent-neutropenia",
        "bone-marrow-involvement", "recent-surgery-or-open-wounds", "liver-dysfunction",
        "renal-dysfunction", "poor-performance-status", "advanced-disease", "hiv-infection"}


def test_growth_factors_are_flagged_and_high_risk_regimens_exist(kb):
    assert {d.key for d in kb.drugs.values() if d.growth_factor} == {"pegfilgrastim", "filgrastim"}
    assert _regimen(kb, "pancreatic-met-folfirinox").fn_risk is FnRisk.HIGH
    assert _regimen(kb, "nsclc-nonsq-platinum-pemetrexed-pembrolizumab").fn_risk is FnRisk.LOW


# ------------------------------------------------------------------ requirements modelled


def test_thp_pathway_and_trastuzumab_policy_both_require_her2_positive(kb):
    pathway = _pathway(kb, "breast-her2pos-metastatic-1l")
    assert [(c.marker, c.results) for c in pathway.requires] == [("HER2", (BiomarkerResult.POSITIVE,))]
    policy = kb.policies["trastuzumab"]
    assert all(any(c.marker == "HER2" and c.results == (BiomarkerResult.POSITIVE,) for c in ind.requires)
               for ind in policy.indications)
    assert BiomarkerResult.NEGATIVE not in policy.indications[0].requires[0].results


def test_ras_wild_type_requires_kras_and_nras_negative(kb):
    pathway = _pathway(kb, "crc-ras-wildtype-metastatic")
    assert {(c.marker, c.results) for c in pathway.requires} == {
        ("KRAS", (BiomarkerResult.NEGATIVE,)), ("NRAS", (BiomarkerResult.NEGATIVE,))}
    panitumumab = kb.policies["panitumumab"].indications[0]
    assert {c.marker for c in panitumumab.requires} == {"KRAS", "NRAS"}


def test_msi_high_pathway_accepts_msi_positive_or_mmr_deficient(kb):
    pathway = _pathway(kb, "crc-msi-high-metastatic")
    assert not pathway.requires
    assert {c.marker for c in pathway.requires_any} == {"MSI", "MMR"}
    crc = next(i for i in kb.policies["pembrolizumab"].indications if i.cancer_types == ("colorectal",))
    assert {c.marker for c in crc.requires_any} == {"MSI", "MMR"}


def test_pdl1_high_pathway_needs_tps_of_at_least_50_and_no_egfr_or_alk(kb):
    pathway = _pathway(kb, "nsclc-pdl1-high-1l")
    tps = pathway.requires[0]
    assert (tps.marker, tps.min_value) == ("PDL1_TPS", 50)
    assert tps.describe() == "PDL1_TPS positive >= 50"
    assert {c.marker for c in pathway.excludes} == {"EGFR", "ALK"}


def test_egfr_pathway_requires_a_sensitizing_variant(kb):
    egfr = _pathway(kb, "nsclc-egfr-metastatic-1l").requires[0]
    assert egfr.marker == "EGFR"
    assert egfr.variants == ("exon 19 deletion", "L858R")


def test_folfirinox_pathway_limits_ecog_to_one(kb):
    pathway = _pathway(kb, "pancreatic-metastatic-1l-fit")
    assert pathway.ecog_max == 1
    assert pathway.settings == (Setting.METASTATIC,)
    assert pathway.lines == (LineOfTherapy.FIRST,)


def test_regimen_schedules_carry_cycle_days_and_frequency(kb):
    vrd = _regimen(kb, "myeloma-nd-vrd")
    bortezomib = next(d for d in vrd.drugs if d.drug_key == "bortezomib")
    assert (bortezomib.cycle_length_days, bortezomib.administration_days, bortezomib.cycles) == (21, (1, 4, 8, 11), 8)
    lenalidomide = next(d for d in vrd.drugs if d.drug_key == "lenalidomide")
    assert lenalidomide.administration_days == tuple(range(1, 15))
    alectinib = _regimen(kb, "nsclc-alk-alectinib").drugs[0]
    assert (alectinib.frequency_per_day, alectinib.until_progression, alectinib.cycles) == (2, True, None)


# ------------------------------------------------------------------ indexes


def test_regimens_with_docetaxel_trastuzumab_pertuzumab_finds_thp(kb):
    found = kb.regimens_with("breast", frozenset({"docetaxel", "trastuzumab", "pertuzumab"}))
    assert [(p.id, r.id) for p, r in found] == [("breast-her2pos-metastatic-1l", "breast-her2-met-thp")]
    assert kb.regimens_with("nsclc", frozenset({"docetaxel", "trastuzumab", "pertuzumab"})) == ()


def test_index_covers_alternative_drugs(kb):
    carbo = kb.regimens_with("nsclc", frozenset({"carboplatin", "pemetrexed", "pembrolizumab"}))
    cis = kb.regimens_with("nsclc", frozenset({"cisplatin", "pemetrexed", "pembrolizumab"}))
    assert [r.id for _, r in carbo] == ["nsclc-nonsq-platinum-pemetrexed-pembrolizumab"]
    # the cisplatin set is also the neoadjuvant part of KEYNOTE-671 (cisplatin-based, perioperative)
    assert [r.id for _, r in cis] == ["nsclc-nonsq-platinum-pemetrexed-pembrolizumab",
                                      "nsclc-perioperative-pembrolizumab-cisplatin-doublet"]
    anastrozole = kb.regimens_with("breast", frozenset({"palbociclib", "anastrozole"}))
    assert [r.id for _, r in anastrozole] == ["breast-hrpos-met-palbociclib-ai"]


def test_index_covers_regimens_with_and_without_optional_drugs(kb):
    with_prednisone = kb.regimens_with("dlbcl", frozenset({"rituximab", "cyclophosphamide", "doxorubicin", "vincristine", "prednisone"}))
    without = kb.regimens_with("dlbcl", frozenset({"rituximab", "cyclophosphamide", "doxorubicin", "vincristine"}))
    assert [r.id for _, r in with_prednisone] == [r.id for _, r in without] == ["dlbcl-rchop21"]
    # Opdualag is billed as one product (relatlimab key); nivolumab may or may not be listed
    assert [r.id for _, r in kb.regimens_with("melanoma", frozenset({"relatlimab"}))] == ["melanoma-met-nivolumab-relatlimab"]
    assert [r.id for _, r in kb.regimens_with("myeloma", frozenset({"bortezomib", "lenalidomide"}))] == ["myeloma-nd-vrd"]


def test_retired_pathway_is_not_returned_after_its_retired_date(kb):
    retired = _pathway(kb, "breast-tnbc-metastatic-atezolizumab-2019")
    assert retired.retired == date(2021, 8, 27)
    assert retired in kb.pathways_for("breast", date(2020, 6, 1))
    assert retired not in kb.pathways_for("breast", date(2021, 8, 27))
    assert retired not in kb.pathways_for("breast", date(2026, 11, 22))
    assert _pathway(kb, "breast-her2pos-metastatic-1l") in kb.pathways_for("breast", date(2026, 11, 22))


def test_trial_arms_point_to_known_drugs_and_tag_unverified_arms(kb):
    arms = {t.arm.split(" ")[0]: t for t in kb.trials}
    assert all(t.nct_id == "NCT02465060" for t in kb.trials)
    assert arms["Z1D"].biomarker.marker == "MMR" and arms["Z1D"].drug == "nivolumab"
    assert arms["H"].drug == "dabrafenib" and "V600" in arms["H"].biomarker.variants
    assert arms["E"].source.endswith("[M]")
    assert all(t.drug in kb.drugs for t in kb.trials)


def test_the_bundled_knowledge_base_is_loaded_once_per_process():
    # How long the load takes is a benchmark figure, not a test: a timed assertion fails at
    # random on a shared 2-core machine.
    load_knowledge.cache_clear()
    first = load_knowledge()
    assert load_knowledge() is first
    assert load_knowledge(str(DATA_DIR)) is first


# ------------------------------------------------------------------ broken data fails loudly


def test_a_corrupted_field_fails_naming_the_file_and_field(data_copy):
    def corrupt(doc):
        doc["pathways"][2]["regimens"][0]["fn_risk"] = "very-high"
    _edit(data_copy / "pathways" / "breast.yaml", corrupt)
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge(str(data_copy))
    message = str(exc.value)
    assert message.startswith("pathways/breast.yaml: pathways[2].regimens[0].fn_risk:")
    assert "'very-high'" in message


def test_an_unknown_drug_key_in_a_pathway_fails_naming_it(data_copy):
    def typo(doc):
        doc["pathways"][2]["regimens"][0]["drugs"][1]["drug"] = "trastuzumabb"
    _edit(data_copy / "pathways" / "breast.yaml", typo)
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge(str(data_copy))
    assert str(exc.value) == (
        "pathways/breast.yaml: pathways[2].regimens[0].drugs[1].drug: 'trastuzumabb' is not a known drug")


def test_a_bad_date_fails_naming_the_field(data_copy):
    path = data_copy / "kb.yaml"
    path.write_text(re.sub(r"^reviewed: .*$", "reviewed: 2026-13-45", path.read_text(), count=1, flags=re.M))
    with pytest.raises(KnowledgeError, match=r"^kb\.yaml: reviewed: '2026-13-45' is not a 'date'"):
        load_knowledge(str(data_copy))


def test_a_managed_drug_without_a_policy_fails(data_copy):
    # a drug's policy may be spread over policies.yaml and policies/*.yaml: remove it everywhere
    for path in [data_copy / "policies.yaml", *sorted((data_copy / "policies").glob("*.yaml"))]:
        _edit(path, lambda doc: doc.__setitem__("policies", [p for p in doc["policies"] if p["drug"] != "cetuximab"]))
    with pytest.raises(KnowledgeError, match=r"^policies\.yaml: policies: managed drug\(s\) without a policy: cetuximab$"):
        load_knowledge(str(data_copy))


def test_a_pathway_for_an_unknown_cancer_type_fails(data_copy):
    _edit(data_copy / "pathways" / "dlbcl.yaml", lambda doc: doc.__setitem__("cancer_type", "lymphoma"))
    with pytest.raises(KnowledgeError, match=r"^pathways/dlbcl\.yaml: cancer_type: 'lymphoma' is not a known cancer type$"):
        load_knowledge(str(data_copy))


def test_a_duplicate_regimen_id_fails_naming_both_files(data_copy):
    def dup(doc):
        doc["pathways"][0]["regimens"][0]["id"] = "breast-her2-met-thp"
    _edit(data_copy / "pathways" / "dlbcl.yaml", dup)
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge(str(data_copy))
    assert "duplicate regimen id 'breast-her2-met-thp'" in str(exc.value)
    assert "pathways/breast.yaml" in str(exc.value) and "pathways/dlbcl.yaml" in str(exc.value)


def test_a_pathway_retired_before_it_took_effect_fails(data_copy):
    def retire(doc):
        doc["pathways"][0]["retired"] = "2024-01-01"
    _edit(data_copy / "pathways" / "melanoma.yaml", retire)
    with pytest.raises(KnowledgeError, match=r"^pathways/melanoma\.yaml: pathways\[0\]\.retired: 2024-01-01 is not after effective 2025-01-01$"):
        load_knowledge(str(data_copy))


def test_an_unexpected_field_is_rejected(data_copy):
    def extra(doc):
        doc["drugs"][0]["benefits"] = "medical"
    _edit(data_copy / "drugs.yaml", extra)
    with pytest.raises(KnowledgeError, match=r"^drugs\.yaml: drugs\[0\]: Additional properties are not allowed \('benefits' was unexpected\)"):
        load_knowledge(str(data_copy))


def test_a_hcpcs_code_claimed_by_two_drugs_fails(data_copy):
    def steal(doc):
        doc["drugs"][1]["hcpcs"].append(dict(doc["drugs"][0]["hcpcs"][0]))
    _edit(data_copy / "drugs.yaml", steal)
    with pytest.raises(KnowledgeError, match=r"^drugs\.yaml: drugs\[1\]\.hcpcs\[1\]\.code: hcpcs code 'J9355' already belongs to 'trastuzumab'$"):
        load_knowledge(str(data_copy))


def test_a_missing_file_fails_naming_it(data_copy):
    (data_copy / "trials.yaml").unlink()
    with pytest.raises(KnowledgeError, match=r"^trials\.yaml: file is missing$"):
        load_knowledge(str(data_copy))


def test_a_regimen_dose_outside_the_drug_dose_range_fails(data_copy):
    def overdose(doc):
        doc["pathways"][2]["regimens"][0]["drugs"][0]["dose"] = 150
    _edit(data_copy / "pathways" / "breast.yaml", overdose)
    with pytest.raises(KnowledgeError, match=r"^pathways/breast\.yaml: pathways\[2\]\.regimens\[0\]\.drugs\[0\]\.dose: 150 mg/m2 is outside the dose range of 'docetaxel'$"):
        load_knowledge(str(data_copy))


def test_every_regimen_dose_lies_within_the_drug_dose_range(kb):
    for pathway in kb.pathways:
        for regimen in pathway.regimens:
            for rd in regimen.drugs:
                if rd.dose is None:   # a drug whose dose was not read is listed without one: nothing to compare
                    continue
                ranges = [r for r in kb.drugs[rd.drug_key].dose_range if r.unit == rd.dose_unit]
                assert ranges, (regimen.id, rd.drug_key, rd.dose_unit)
                assert any(r.min <= rd.dose <= r.max for r in ranges), (regimen.id, rd.drug_key)


@pytest.mark.parametrize("label, key", [
    ("trastuzumab 150 MG Injection [Herceptin]", "trastuzumab"),
    ("paclitaxel protein-bound 100 MG Injectable Suspension", "nab-paclitaxel"),   # not plain paclitaxel
    ("paclitaxel 6 MG/ML Injectable Solution", "paclitaxel"),
    ("nivolumab and relatlimab-rmbw 240 MG", "relatlimab"),                         # the longest name wins
    ("pegfilgrastim-jmdb 6 MG/0.6ML Prefilled Syringe", "pegfilgrastim"),
    ("ado-trastuzumab emtansine 100 MG Injection", "ado-trastuzumab-emtansine"),
    ("Amoxicillin 500 MG Oral Capsule", None),
    ("trastuzumab and pertuzumab kit", None),                                       # two drugs: not guessed
    ("", None),
])
def test_a_product_label_names_the_drug_by_its_longest_whole_word_name(kb, label, key):
    drug = kb.drug_named_in(label)
    assert (drug.key if drug else None) == key


def test_a_name_two_drugs_share_resolves_to_neither(tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    text = (data / "drugs.yaml").read_text()
    text = text.replace("    synonyms: [Kadcyla]", "    synonyms: [Kadcyla, Herceptin]", 1)
    text = text.replace("    name: Trastuzumab\n", "    name: Trastuzumab\n    synonyms: [Herceptin]\n", 1)
    (data / "drugs.yaml").write_text(text)
    kb = load_knowledge(str(data))
    assert kb.drug_named_in("Herceptin 150 MG") is None
    assert kb.drug_named_in("Kadcyla 100 MG").key == "ado-trastuzumab-emtansine"


# ------------------------------------------------------------------ issue 12: indications at label depth


def _first_indication(doc):
    return next(p for p in doc["policies"] if p["drug"] == "trastuzumab")["indications"][0]


def test_an_indication_with_no_criteria_is_refused_unless_it_says_so(data_copy):
    def strip(doc):
        ind = _first_indication(doc)
        for key in ("requires", "partners", "settings", "lines"):
            ind.pop(key, None)
    _edit(data_copy / "policies.yaml", strip)
    load_knowledge.cache_clear()
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data_copy)
    assert "policies.yaml" in str(err.value) and "indications[0]" in str(err.value)

    _edit(data_copy / "policies.yaml", lambda doc: _first_indication(doc).update(
        no_criteria="the label names the cancer type only"))
    load_knowledge.cache_clear()
    kb = load_knowledge(data_copy)
    assert kb.policies["trastuzumab"].indications[0].no_criteria == "the label names the cancer type only"


def test_an_indication_without_a_source_is_refused(data_copy):
    _edit(data_copy / "policies.yaml", lambda doc: _first_indication(doc).pop("source"))
    load_knowledge.cache_clear()
    with pytest.raises(KnowledgeError, match="source"):
        load_knowledge(data_copy)


def test_an_unknown_histology_group_is_refused_naming_the_field(data_copy):
    _edit(data_copy / "policies.yaml", lambda doc: _first_indication(doc).update(histology=["squamoid"]))
    load_knowledge.cache_clear()
    with pytest.raises(KnowledgeError, match="squamoid"):
        load_knowledge(data_copy)


def test_liposomal_irinotecan_and_nab_paclitaxel_are_their_own_drugs_with_their_own_policy_and_code(kb):
    assert kb.drugs["irinotecan-liposome"].formulation_of == "irinotecan"
    assert kb.drugs["irinotecan-liposome"].hcpcs[0].code == "J9205"
    assert kb.drugs["nab-paclitaxel"].formulation_of == "paclitaxel"
    assert kb.drugs["nab-paclitaxel"].hcpcs[0].code == "J9264"
    assert "irinotecan-liposome" in kb.policies and "nab-paclitaxel" in kb.policies


def test_policy_review_reads_indications_from_an_index_built_at_load(kb):
    inds = kb.indications_for("pembrolizumab", "nsclc")
    # NSCLC's own indications, plus the tumour-agnostic ones (MSI-H, TMB-H) that apply to every solid type
    assert inds and all("nsclc" in i.cancer_types
                        or any(kb.cancer_types[c].agnostic for c in i.cancer_types) for i in inds)
    assert any("nsclc" in i.cancer_types for i in inds)
    assert kb.indications_for("pembrolizumab", None) == ()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
