"""Only a primary source authorizes (issue 14): a regimen or indication whose source is a
secondary one (V2) or none (M) still matches, then pends "unverified knowledge"; tumour-agnostic
groups apply to every solid cancer type and to no blood cancer; the knowledge base may be split
into per-cancer-type files; `oncopath kb stats|check` report what the committee must verify."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kbfakes import PATHWAYS, fake_knowledge, her2, order, thp
from server.cli import main as cli_main
from server.domain.decision import CaseStatus
from server.engine.decide import decide
from server.knowledge import audit
from server.knowledge.loader import DATA_DIR, KnowledgeError, load_knowledge
from server.knowledge.model import CancerType, Evidence, Indication

pytestmark = pytest.mark.unit

V2 = Evidence("a drug summary quoting the label", tag="V2")


def _with_regimen_evidence(pathway_id: str, evidence: Evidence):
    pathways = tuple(replace(p, regimens=tuple(replace(r, evidence=evidence) for r in p.regimens))
                     if p.id == pathway_id else p for p in PATHWAYS)
    return fake_knowledge(pathways=pathways)


def test_a_secondary_source_is_not_verified_and_only_a_primary_one_is():
    assert Evidence("label", tag="V").verified
    assert not Evidence("summary", tag="V2").verified
    assert not Evidence("memory", tag="M").verified


def test_an_on_pathway_regimen_resting_on_a_secondary_source_pends_unverified_knowledge():
    kb = _with_regimen_evidence("breast-her2pos-metastatic-1l", V2)
    d = decide(order(*thp(), biomarkers=(her2(),)), kb)
    assert d.case_status is CaseStatus.IN_PROGRESS
    assert "unverified-knowledge" in [r.code for r in d.pend_reasons]
    assert d.pathway is not None and d.pathway.regimen_id == "breast-her2-met-thp"
    assert d.pathway.pathway_eligible_id is None


def test_the_same_regimen_on_a_primary_source_is_authorized_on_pathway():
    kb = _with_regimen_evidence("breast-her2pos-metastatic-1l", Evidence("CLEOPATRA, NEJM 2012", tag="V"))
    d = decide(order(*thp(), biomarkers=(her2(),)), kb)
    assert d.case_status is CaseStatus.AUTHORIZED
    assert d.pathway.pathway_eligible_id


def _agnostic_kb():
    """Pembrolizumab indicated only through a tumour-agnostic group (MSI-H solid tumours)."""
    from server.knowledge.model import BiomarkerCriterion
    from server.domain.order import BiomarkerResult
    base = fake_knowledge()
    cancers = dict(base.cancer_types)
    cancers["solid-msi-h"] = CancerType("solid-msi-h", "MSI-H solid tumours", (), kind="agnostic-solid")
    cancers["myeloma"] = CancerType("myeloma", "Multiple myeloma", ("C90.0",), kind="hematologic")
    msi = Indication(("solid-msi-h",), requires=(BiomarkerCriterion("MSI", (BiomarkerResult.POSITIVE,)),),
                     id="pembrolizumab-msi-h-agnostic", evidence=Evidence("Keytruda USPI", "1", "01/2026", tag="V"))
    policies = dict(base.policies)
    policies["pembrolizumab"] = replace(policies["pembrolizumab"], indications=(msi,))
    return fake_knowledge(cancer_types=cancers, policies=policies)


def test_a_tumour_agnostic_indication_is_indexed_under_every_solid_cancer_type_and_no_blood_cancer():
    kb = _agnostic_kb()
    ids = {ct: [i.id for i in kb.indications_for("pembrolizumab", ct)] for ct in ("breast", "colorectal", "myeloma")}
    assert ids["breast"] == ["pembrolizumab-msi-h-agnostic"]
    assert ids["colorectal"] == ["pembrolizumab-msi-h-agnostic"]
    assert ids["myeloma"] == []


def test_the_bundled_knowledge_base_loads_split_files_and_merges_a_drugs_policy_across_them(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    (data / "policies").mkdir(exist_ok=True)
    (data / "policies" / "extra.yaml").write_text(yaml.safe_dump({"policies": [{
        "drug": "trastuzumab", "source": "test",
        "indications": [{"id": "trastuzumab-test-extra", "cancer_types": ["colorectal"],
                         "no_criteria": "test", "source": {"source": "test", "tag": "M"}}]}]}))
    kb = load_knowledge(data)
    ids = [i.id for i in kb.policies["trastuzumab"].indications]
    assert "trastuzumab-test-extra" in ids and len(ids) >= 2
    # the same indication id twice is refused, naming the second file
    (data / "policies" / "twice.yaml").write_text((data / "policies" / "extra.yaml").read_text())
    load_knowledge.cache_clear()
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data)
    assert "twice.yaml" in str(err.value) and "trastuzumab-test-extra" in str(err.value)


def test_a_drug_defined_in_two_files_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    first = yaml.safe_load((data / "drugs.yaml").read_text())["drugs"][0]
    (data / "drugs").mkdir(exist_ok=True)
    (data / "drugs" / "again.yaml").write_text(yaml.safe_dump({"drugs": [first]}))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data)
    assert "again.yaml" in str(err.value) and first["key"] in str(err.value)


def test_a_regimen_tagged_v_without_the_citation_it_was_read_in_is_refused_by_the_schema(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = next((data / "pathways").glob("*.yaml"))
    doc = yaml.safe_load(path.read_text())
    src = doc["pathways"][0]["regimens"][0]["source"]
    src["tag"] = "V"
    src.pop("citation", None)
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data)
    assert "citation" in str(err.value)


def _yaml_count(kind: str) -> int:
    """Regimens / indications counted straight from the files, not through the loader."""
    n = 0
    for path in DATA_DIR.rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text()) or {}
        if kind == "regimens":
            n += sum(len(p["regimens"]) for p in doc.get("pathways", []) if "cancer_type" in doc)
        else:
            n += sum(len(p["indications"]) for p in doc.get("policies", []))
    return n


def test_kb_stats_counts_what_the_files_hold_and_no_unverified_fact_can_authorize(capsys):
    assert cli_main(["kb", "stats", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["regimens"] == _yaml_count("regimens")
    assert figures["indications"] == _yaml_count("indications")
    assert figures["unverified_on_auto_approving_path"] == 0
    kb = load_knowledge()
    assert sum(figures["by_tag"]["regimen"].values()) == figures["regimens"]
    assert figures["by_tag"]["regimen"].get("V", 0) == sum(r.verified for p in kb.pathways for r in p.regimens)


def test_kb_check_names_each_unverified_fact_and_each_regimen_missing_a_scenario(capsys):
    kb = load_knowledge()
    unverified = [f for f in audit.facts(kb) if f.tag != "V"]
    code = cli_main(["kb", "check"])
    out = capsys.readouterr().out
    assert code == (1 if unverified else 0)
    for f in unverified[:3]:
        assert f"unverified {f.kind} {f.id} [{f.tag}]" in out
    assert out.strip().endswith("problem(s)")
    from scenarios.generate import generated_scenarios
    cover = audit.scenario_coverage(kb, Path(__file__).parent / "scenarios", list(generated_scenarios()))
    missing = [rid for rid, c in cover.items() if not c["negative"]]
    for rid in missing[:3]:
        assert f"regimen {rid}: no off-pathway" in out


def test_the_pegfilgrastim_biosimilar_q_codes_name_the_right_products():
    """Issue 14: Q5127 and Q5130 carried each other's product (CMS assigned Q5127 to Stimufend,
    pegfilgrastim-fpgk, effective 2023-04-01)."""
    codes = {h.code: h.description for h in load_knowledge().drugs["pegfilgrastim"].hcpcs}
    assert "pegfilgrastim-fpgk (Stimufend)" in codes["Q5127"]
    assert "Stimufend" not in codes["Q5130"]


def test_a_biosimilar_ordered_by_its_q_code_is_billed_as_that_product_and_the_originator_by_its_own():
    from server.domain.order import Code
    from server.knowledge.model import HCPCS, HcpcsCode, RXNORM
    base = fake_knowledge()
    drugs = dict(base.drugs)
    drugs["trastuzumab"] = replace(drugs["trastuzumab"], hcpcs=drugs["trastuzumab"].hcpcs + (
        HcpcsCode("Q5116", 10, "mg", "Injection, trastuzumab-qyyp, biosimilar, 10 mg"),))
    kb = fake_knowledge(drugs=drugs)
    docetaxel, trastuzumab, pertuzumab = thp()
    biosimilar = replace(trastuzumab, codes=(Code(RXNORM, "224905"), Code(HCPCS, "Q5116")))
    billed = {d.drug_key: d.hcpcs for d in decide(order(docetaxel, biosimilar, pertuzumab, biomarkers=(her2(),)), kb).drugs}
    assert billed["trastuzumab"] == "Q5116"
    originator = {d.drug_key: d.hcpcs for d in decide(order(*thp(), biomarkers=(her2(),)), kb).drugs}
    assert originator["trastuzumab"] == "J9355"


def test_kb_check_asks_a_retired_pathways_regimen_only_for_the_scenario_that_it_is_no_longer_used(capsys):
    kb = load_knowledge()
    retired = [r.id for p in kb.pathways if p.retired is not None and p.retired <= kb.effective for r in p.regimens]
    assert "breast-tnbc-met-atezolizumab-nab-paclitaxel" in retired
    cli_main(["kb", "check"])
    out = capsys.readouterr().out
    assert "regimen breast-tnbc-met-atezolizumab-nab-paclitaxel: no scenario expects it Authorized" not in out
    from scenarios.generate import generated_scenarios
    cover = audit.scenario_coverage(kb, Path(__file__).parent / "scenarios", list(generated_scenarios()))
    # the negative scenario is still demanded, and present
    assert cover["breast-tnbc-met-atezolizumab-nab-paclitaxel"]["negative"]
