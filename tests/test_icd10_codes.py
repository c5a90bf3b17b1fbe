"""Every ICD-10-CM code and family the knowledge base and the program tables name is a code of the
official code set (CMS tabular list, shipped by simple-icd-10-cm), and every exclusion is a
descendant of a family it excludes from: a typo or a retired code fails here, not in production."""
from __future__ import annotations

import pytest
import simple_icd_10_cm as cm

from server.knowledge.loader import load_knowledge

pytestmark = pytest.mark.unit

KB = load_knowledge()


def _valid(code: str) -> bool:
    # a category without its dot (C50) or a subcategory / code (C50.91, C83.3)
    return cm.is_valid_item(code)


def _under(code: str, family: str) -> bool:
    return code == family or family in cm.get_ancestors(code)


@pytest.mark.parametrize("ct", [c for c in KB.cancer_types.values() if c.icd10_prefixes], ids=lambda c: c.key)
def test_each_cancer_types_icd10_families_are_official_codes_and_its_exclusions_lie_within_them(ct):
    bad = [c for c in ct.icd10_prefixes + ct.icd10_excludes if not _valid(c)]
    assert not bad, f"{ct.key}: not ICD-10-CM codes: {bad}"
    for ex in ct.icd10_excludes:
        assert any(_under(ex, fam) for fam in ct.icd10_prefixes), f"{ct.key}: {ex} is not under {ct.icd10_prefixes}"


def test_every_family_is_a_malignant_neoplasm_or_a_neoplasm_the_program_manages():
    for ct in KB.cancer_types.values():
        for fam in ct.icd10_prefixes:
            chapter = cm.get_ancestors(fam)[-1] if cm.get_ancestors(fam) else fam
            assert chapter in ("2", "3"), f"{ct.key}: {fam} is outside the neoplasm/blood chapters ({chapter})"


def test_no_icd10_family_belongs_to_two_cancer_types_unless_histology_tells_them_apart():
    owners: dict[str, list[str]] = {}
    for ct in KB.cancer_types.values():
        for fam in ct.icd10_prefixes:
            owners.setdefault(fam, []).append(ct.key)
    for fam, keys in owners.items():
        if len(keys) > 1:
            distinct = [KB.cancer_types[k] for k in keys]
            assert sum(1 for c in distinct if not c.histology_excludes and not c.histology_snomed) <= 1, \
                f"{fam} is claimed by {keys} and histology does not separate them"


def test_indication_exclusions_are_official_codes():
    bad = [(p.drug_key, i.id, c) for p in KB.policies.values() for i in p.indications
           for c in i.icd10_excludes if not _valid(c)]
    assert not bad


def test_the_program_tables_icd10_codes_are_official_codes():
    clinical = KB.program["clinical"]
    codes = list(clinical["fn_risk_factors"]["icd10cm_prefixes"]) + list(clinical["icd10_secondary_prefixes"])
    assert [c for c in codes if not _valid(c)] == []


def test_fn_risk_renal_dysfunction_is_not_read_from_early_chronic_kidney_disease():
    table = KB.program["clinical"]["fn_risk_factors"]["icd10cm_prefixes"]
    for early in ("N18", "N18.1", "N18.2", "N18.3", "N18.31"):
        assert early not in table, f"{early} ({cm.get_description(early)}) does not imply creatinine clearance < 50"
    for family in ("K70", "K74", "K76"):
        assert family not in table, f"{family} ({cm.get_description(family)}) does not imply bilirubin > 2"


def test_the_shipped_neoplasm_code_file_is_exactly_the_packages_chapter_2():
    from scripts.gen_icd10cm_neoplasms import chapter_codes
    from server.knowledge.codesets import icd10cm_neoplasm_codes
    assert icd10cm_neoplasm_codes() == frozenset(chapter_codes())


def test_a_request_with_an_invented_icd10_code_matches_its_family_but_pends_for_the_diagnosis():
    from dataclasses import replace

    from kbfakes import fake_knowledge, her2, order, thp
    from server.domain.decision import CaseStatus
    from server.domain.order import Code
    from server.engine.decide import decide
    from server.knowledge.model import ICD10CM
    kb = fake_knowledge()
    good = order(*thp(), biomarkers=(her2(),))
    assert decide(good, kb).case_status is CaseStatus.AUTHORIZED
    invented = replace(good, diagnosis=replace(good.diagnosis, codes=(Code(ICD10CM, "C50.999"),)))
    d = decide(invented, kb)
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert d.cancer_type == "breast"
    reason = next(r for r in d.pend_reasons if r.code == "diagnosis-code-unknown")
    assert "C50.999" in reason.text
