"""Thoracic cancer types (issue 14): C34 is NSCLC or SCLC by histology, every ICD-10-CM family
in the thoracic file is a real CMS code."""
import pytest
import simple_icd_10_cm as cm
import yaml
from pathlib import Path

from server.knowledge.loader import load_knowledge
from server.knowledge.model import ICD10CM, Code

pytestmark = pytest.mark.unit

ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
KB = load_knowledge()
THORACIC = Path(__file__).resolve().parents[1] / "server/knowledge/data/cancer_types/thoracic.yaml"


def _type_of(icd: str, *morphology: str):
    histology = tuple(Code(ICDO3, m) for m in morphology)
    groups = KB.histology_of(histology) or frozenset()
    ct = KB.cancer_type_for((Code(ICD10CM, icd),) + histology, groups)
    return ct.key if ct is not None and ct.fits_histology(groups) else None


def test_a_c34_code_with_small_cell_histology_is_small_cell_lung_cancer():
    assert _type_of("C34.11", "8041/3") == "sclc"
    assert _type_of("C34.90", "8045/3") == "sclc"


def test_a_c34_code_with_adenocarcinoma_or_no_histology_stays_non_small_cell():
    assert _type_of("C34.11", "8140/3") == "nsclc"
    assert _type_of("C34.11") == "nsclc"


def test_head_and_neck_sites_map_to_hnscc_and_the_other_thoracic_sites_to_their_types():
    assert _type_of("C02.1") == "hnscc"
    assert _type_of("C32.0") == "hnscc"
    assert _type_of("C45.0") == "mesothelioma"
    assert _type_of("C73") == "thyroid"
    assert _type_of("C37") == "thymic"
    assert _type_of("C33") is None          # trachea is not on a thoracic pathway


def test_every_icd10_family_of_the_thoracic_types_is_a_valid_cms_code():
    doc = yaml.safe_load(THORACIC.read_text())
    for ct in doc["cancer_types"]:
        for prefix in ct["icd10_prefixes"] + ct.get("icd10_excludes", []):
            assert cm.is_valid_item(prefix), (ct["key"], prefix)


def test_a_variant_text_naming_the_gene_before_the_exon_is_read_structurally():
    from server.domain.order import Biomarker, BiomarkerResult
    from server.engine.criteria import variant_matches
    exon20 = Biomarker(name="EGFR", result=BiomarkerResult.POSITIVE, variant="EGFR exon 20 insertion")
    met14 = Biomarker(name="MET", result=BiomarkerResult.POSITIVE, variant="MET exon 14 skipping")
    assert variant_matches("exon 20 insertion", exon20) is True
    assert variant_matches("exon 19 deletion", exon20) is False
    assert variant_matches("L858R", exon20) is False
    assert variant_matches("exon 14 skipping", met14) is True
