"""A SNOMED CT diagnosis code names a cancer type through the knowledge base's code list; a code
whose mapping was not read in a primary source (tag V2 / M) may name the type but never makes the
request Authorized on its own (issue 14: an unverified fact cannot authorize)."""
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
    assert ("92814006", "V2", "cll") in facts            # broader than B-cell CLL: pends
    assert any(tag != "V" for _, tag, _ in facts)
    assert audit.stats(kb)["by_tag"]["snomed"]["V"] >= 1


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
