"""Codes are facts with tags (issue 14: an unverified fact cannot authorize): a SNOMED CT
diagnosis code or a histology morphology code whose mapping was not read in a primary source (tag
V2 / M) may name the cancer type or the histology group, but never makes the request Authorized on
its own; the case pends for a clinician (R12). An anticancer drug named only by RxNorm / HCPCS codes
tagged V2 / M matches but its line pends (R3)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from kbfakes import CANCERS, fake_knowledge, her2, order, thp
from server.domain.decision import CaseStatus
from server.domain.order import Code
from server.engine.decide import decide
from server.knowledge.model import ICD10CM, SNOMED

pytestmark = pytest.mark.unit

VERIFIED, WEAK = "254837009", "363346000"   # the first as in mCODE 4.0.0; the second a stand-in tagged M


def _kb():
    cancers = [replace(c, snomed=(VERIFIED, WEAK)) if c.key == "breast" else c for c in CANCERS]
    return fake_knowledge(cancer_types={c.key: c for c in cancers}, snomed_tags={VERIFIED: "V", WEAK: "M"})


def _coded(*codes: Code):
    good = order(*thp(), biomarkers=(her2(),))
    return replace(good, diagnosis=replace(good.diagnosis, codes=codes))


def test_a_verified_snomed_code_alone_names_the_cancer_type_and_can_authorize():
    d = decide(_coded(Code(SNOMED, VERIFIED)), _kb())
    assert (d.cancer_type, d.case_status) == ("breast", CaseStatus.AUTHORIZED)


def test_an_unverified_snomed_code_alone_names_the_cancer_type_but_pends_for_a_clinician():
    d = decide(_coded(Code(SNOMED, WEAK)), _kb())
    assert d.cancer_type == "breast"
    assert d.case_status is CaseStatus.IN_PROGRESS
    reason = next(r for r in d.pend_reasons if r.code == "unverified-knowledge")
    assert WEAK in reason.text and "[M]" in reason.text and reason.rule == "R12"


def test_an_unverified_snomed_code_beside_an_icd10_code_of_the_same_type_does_not_pend():
    d = decide(_coded(Code(SNOMED, WEAK), Code(ICD10CM, "C50.911")), _kb())
    assert (d.cancer_type, d.case_status) == ("breast", CaseStatus.AUTHORIZED)


def test_the_knowledge_base_lists_unverified_snomed_codes_as_facts_to_verify():
    from server.knowledge import audit
    from server.knowledge.loader import load_knowledge
    kb = load_knowledge()
    facts = {(f.id, f.tag, f.where) for f in audit.facts(kb) if f.kind == "snomed"}
    assert ("277571004", "V", "all") in facts            # mCODE STU4 Brian L
    assert ("92814006", "V", "cll") in facts             # read; broader than B-cell CLL, so it pends
    assert "92814006" in kb.snomed_broader and "277571004" not in kb.snomed_broader
    assert audit.stats(kb)["by_tag"]["snomed"]["V"] >= 1


BROAD = "372244006"     # melanoma of any site, read; the stand-in maps it to breast in the fake


def _broad_kb():
    cancers = [replace(c, snomed=(VERIFIED, BROAD)) if c.key == "breast" else c for c in CANCERS]
    return fake_knowledge(cancer_types={c.key: c for c in cancers}, snomed_tags={VERIFIED: "V", BROAD: "V"},
                          snomed_broader=frozenset({BROAD}))


def test_a_verified_snomed_code_broader_than_the_cancer_type_names_it_but_pends_for_a_clinician():
    d = decide(_coded(Code(SNOMED, BROAD)), _broad_kb())
    assert d.cancer_type == "breast" and d.case_status is CaseStatus.IN_PROGRESS
    reason = next(r for r in d.pend_reasons if r.code == "diagnosis-code-broader")
    assert BROAD in reason.text and "broader" in reason.text and reason.rule == "R12"
    assert not [r for r in d.pend_reasons if r.code == "unverified-knowledge"]


def test_a_broader_snomed_code_beside_a_code_of_the_type_itself_authorizes():
    for other in (Code(ICD10CM, "C50.911"), Code(SNOMED, VERIFIED)):
        d = decide(_coded(Code(SNOMED, BROAD), other), _broad_kb())
        assert (d.cancer_type, d.case_status) == ("breast", CaseStatus.AUTHORIZED), other


def test_the_card_asks_for_the_icd10_code_when_a_broader_snomed_code_names_the_diagnosis():
    from cards.wording import pend_findings
    d = decide(_coded(Code(SNOMED, BROAD)), _broad_kb())
    found = [f for f in pend_findings(d, _broad_kb(), "breast cancer") if BROAD in f.text]
    assert len(found) == 1
    assert "broader condition than breast cancer" in found[0].text and "policy" not in found[0].text
    assert found[0].send == "the ICD-10-CM diagnosis code"


def test_the_mcode_brian_l_record_is_b_cell_all_with_its_immunophenotype_read():
    import json
    from datetime import datetime, timezone
    from pathlib import Path

    from mappings import order_from_bundle
    from server.knowledge.loader import load_knowledge
    examples = Path(__file__).resolve().parents[1].parent / "shared" / "examples" / "mcode-4.0.0"
    files = sorted(examples.glob("*brian-l*.json"))
    if not files:
        pytest.skip("shared/examples not beside the repo")
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": json.loads(f.read_text())} for f in files]}
    o = order_from_bundle(bundle, received_at=datetime(2024, 1, 9, 12, tzinfo=timezone.utc))
    d = decide(o, load_knowledge())
    assert d.cancer_type == "all"
    assert {b.name for b in o.biomarkers if b.result.value == "positive"} >= {"CD19", "CD20", "CD10"}


# --- histology morphology codes -----------------------------------------------------------------

def _histology_kb(tag: str):
    from server.knowledge.loader import load_knowledge
    kb = load_knowledge()
    tags = dict(kb.histology_tags)
    for pair in kb.histology_groups["small-cell"]:
        tags[pair] = tag
    return replace(kb, histology_tags=tags)


def _c34_small_cell():
    from kbfakes import line
    from server.knowledge.loader import _HISTOLOGY_SYSTEMS
    o = order(line("carboplatin"), line("etoposide"), cancer="nsclc")
    return replace(o, diagnosis=replace(o.diagnosis, histology=(Code(_HISTOLOGY_SYSTEMS["icd-o-3"], "8041/3"),)))


def test_a_verified_small_cell_code_under_c34_names_sclc_without_a_histology_pend():
    d = decide(_c34_small_cell(), _histology_kb("V"))
    assert d.cancer_type == "sclc"
    assert not [r for r in d.pend_reasons if r.code == "unverified-knowledge" and "histology" in r.text]


def test_an_unverified_small_cell_code_under_c34_names_sclc_but_pends_for_the_histology():
    kb = _histology_kb("M")
    assert kb.histology_of(_c34_small_cell().diagnosis.histology) == frozenset({"small-cell"})
    assert kb.histology_of(_c34_small_cell().diagnosis.histology, verified_only=True) == frozenset()
    d = decide(_c34_small_cell(), kb)
    assert d.cancer_type == "sclc" and d.case_status is CaseStatus.IN_PROGRESS
    reason = next(r for r in d.pend_reasons if r.code == "unverified-knowledge" and "8041/3" in r.text)
    assert reason.rule == "R12"


# --- drug codes --------------------------------------------------------------------------------

def _sacituzumab(*codes: Code):
    from server.domain.order import DrugLine
    o = order(cancer="breast")
    return replace(o, drugs=(DrugLine(ref="MedicationRequest/sg", codes=codes, display="sacituzumab"),))


def test_an_anticancer_drug_named_only_by_a_code_tagged_v2_pends_for_the_product():
    from server.knowledge.loader import load_knowledge
    from server.knowledge.model import HCPCS
    kb = load_knowledge()
    assert kb.code_tags["sacituzumab-govitecan"][("hcpcs", "J9317")] == "V2"
    d = decide(_sacituzumab(Code(HCPCS, "J9317")), kb)
    reason = next(r for r in d.pend_reasons if r.code == "unverified-knowledge" and "J9317" in r.text)
    assert reason.rule == "R3"


def test_the_same_drug_named_also_by_a_verified_code_is_not_held_for_its_codes():
    from server.knowledge.loader import load_knowledge
    from server.knowledge.model import HCPCS, RXNORM
    kb = load_knowledge()
    d = decide(_sacituzumab(Code(RXNORM, "2360232"), Code(HCPCS, "J9317")), kb)
    assert not [r for r in d.pend_reasons if r.code == "unverified-knowledge" and "J9317" in r.text]


# --- retired and product-specific HCPCS codes ---------------------------------------------------

def _cyclophosphamide(*codes: Code):
    from server.domain.order import DrugLine
    o = order(cancer="breast")
    return replace(o, drugs=(DrugLine(ref="item/1", codes=codes, display="cyclophosphamide", route="IV",
                                      dose=600, dose_unit="mg/m2"),))


def test_a_line_named_only_by_a_retired_hcpcs_code_pends_saying_the_code_is_no_longer_current():
    from cards.wording import reason_findings
    from server.knowledge.loader import load_knowledge
    from server.knowledge.model import HCPCS
    kb = load_knowledge()
    [j9070] = [h for h in kb.drugs["cyclophosphamide"].hcpcs if h.code == "J9070"]
    assert j9070.retired and kb.code_tags["cyclophosphamide"][("hcpcs", "J9070")] == "V"
    d = decide(_cyclophosphamide(Code(HCPCS, "J9070")), kb)
    reason = next(r for r in d.pend_reasons if r.code == "retired-code")
    assert "HCPCS J9070" in reason.text and "April 2026" in reason.text and reason.rule == "R3"
    [finding] = reason_findings(reason, "cyclophosphamide", kb, "breast cancer")
    assert finding.text == ("HCPCS J9070 is no longer a current HCPCS code; a reviewer confirms the product and "
                            "the code it is billed under.")


def test_a_current_product_code_names_the_drug_and_is_billed_only_when_the_request_names_it():
    from server.domain.order import DrugRole
    from server.engine.context import DrugWork
    from server.engine.figures import billing_code
    from server.knowledge.loader import load_knowledge
    from server.knowledge.model import HCPCS, RXNORM
    kb = load_knowledge()
    drug = kb.drugs["cyclophosphamide"]
    named = _cyclophosphamide(Code(HCPCS, "J9076")).drugs[0]
    assert kb.drug_for(named.codes[0]) is drug
    assert billing_code(DrugWork(line=named, drug=drug, role=DrugRole.THERAPEUTIC)).code == "J9076"
    by_ingredient = _cyclophosphamide(Code(RXNORM, "3002")).drugs[0]
    assert billing_code(DrugWork(line=by_ingredient, drug=drug, role=DrugRole.THERAPEUTIC)) is None     # no product chosen for it
    d = decide(_cyclophosphamide(Code(HCPCS, "J9076")), kb)
    assert not [r for r in d.pend_reasons if r.code in ("retired-code", "unverified-knowledge") and "J9076" in r.text]
