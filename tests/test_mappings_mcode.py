"""The official mCODE 4.0.0 examples map to the values they hold.

Every Condition, tumor-marker test, cancer-stage / TNM stage-group, ECOG and genomic-variant
example in shared/examples/mcode-4.0.0 (standalone files and the resources inside the Bundle
examples) is mapped; expectations are read from each file, and the important ones are also
asserted by name.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mappings import order_from_bundle
from mappings.condition import ConditionKind, condition_facts
from mappings.observation import observation_facts
from server.domain.order import BiomarkerResult, Code, LineOfTherapy, Setting

MCODE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "examples" / "mcode-4.0.0"
P = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def _all_resources() -> list[tuple[str, dict]]:
    """(label, resource) for every example file and every resource inside example Bundles."""
    out = []
    for path in sorted(MCODE_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("resourceType") == "Bundle":
            for i, entry in enumerate(data.get("entry") or []):
                out.append((f"{path.stem}#entry{i}", entry["resource"]))
        elif "resourceType" in data:
            out.append((path.stem, data))
    return out


def _profile(resource: dict) -> str:
    return ((resource.get("meta") or {}).get("profile") or [""])[0].rsplit("/", 1)[-1]


RESOURCES = _all_resources() if MCODE_DIR.is_dir() else []
CONDITIONS = [(k, r) for k, r in RESOURCES if r["resourceType"] == "Condition"]
TUMOR_MARKERS = [(k, r) for k, r in RESOURCES if _profile(r) == "mcode-tumor-marker-test"]
STAGES = [(k, r) for k, r in RESOURCES
          if _profile(r) in ("mcode-cancer-stage", "mcode-tnm-stage-group", "mcode-lymphoma-stage")]
ECOGS = [(k, r) for k, r in RESOURCES if _profile(r) == "mcode-ecog-performance-status"]
VARIANTS = [(k, r) for k, r in RESOURCES if _profile(r) == "mcode-genomic-variant"]

pytestmark = pytest.mark.skipif(not MCODE_DIR.is_dir(), reason="shared/examples not beside the repo")


def _ids(items):
    return [k for k, _ in items]


def _facts(resource: dict):
    return observation_facts(resource, f"Observation/{resource.get('id')}")


def test_the_example_directory_holds_every_kind_of_resource_this_module_maps():
    assert len(CONDITIONS) >= 13 and len(TUMOR_MARKERS) >= 5 and len(STAGES) >= 15
    assert len(ECOGS) >= 2 and len(VARIANTS) >= 15


# --- Conditions ------------------------------------------------------------------------------

@pytest.mark.parametrize("label,resource", CONDITIONS, ids=_ids(CONDITIONS))
def test_every_condition_keeps_its_codes_and_is_classified_by_its_profile(label, resource):
    facts = condition_facts(resource, "Condition")
    sent = [(c["system"], c["code"]) for c in resource["code"]["coding"]]
    assert [(c.system, c.code) for c in facts.codes] == sent
    profile = _profile(resource)
    expected = {"mcode-primary-cancer-condition": ConditionKind.PRIMARY_CANCER,
                "mcode-secondary-cancer-condition": ConditionKind.SECONDARY_CANCER}.get(profile, ConditionKind.OTHER)
    assert facts.kind is expected
    histology = [(c["valueCodeableConcept"]["coding"][0]["code"]) for c in resource.get("extension", [])
                 if c["url"].endswith("mcode-histology-morphology-behavior")]
    assert [h.code for h in facts.histology] == histology


def test_jenny_m_primary_cancer_is_left_breast_with_ductal_histology_and_stage_summary_iiic():
    resource = json.loads((MCODE_DIR / "Condition-primary-cancer-condition-jenny-m.json").read_text())
    facts = condition_facts(resource, "Condition")
    assert facts.kind is ConditionKind.PRIMARY_CANCER
    assert facts.codes[0] == Code(SNOMED, "353431000119107",
                                  "Primary malignant neoplasm of female left breast (disorder)")
    assert facts.histology[0].code == "82711006"
    assert facts.stage_summary == "IIIC"
    assert facts.stage_assessments == ("Observation/tnm-clinical-stage-group-jenny-m",)


def test_brain_metastasis_is_a_secondary_cancer_and_hypertension_is_not_a_cancer():
    brain = json.loads((MCODE_DIR / "Condition-secondary-cancer-condition-brain-mets.json").read_text())
    assert condition_facts(brain, "Condition").kind is ConditionKind.SECONDARY_CANCER
    htn = json.loads((MCODE_DIR / "Condition-us-core-condition-hypertension-jenny-m.json").read_text())
    facts = condition_facts(htn, "Condition")
    assert facts.kind is ConditionKind.OTHER and facts.fn_risk_factors == frozenset()


def test_icd10_heart_failure_condition_is_kept_with_its_icd_code():
    chf = json.loads((MCODE_DIR / "Condition-john-anyperson-chf.json").read_text())
    facts = condition_facts(chf, "Condition")
    assert facts.codes == (Code("http://hl7.org/fhir/sid/icd-10-cm", "I50.32",
                                "Chronic diastolic (congestive) heart failure"),)
    assert facts.kind is ConditionKind.OTHER


# --- tumor markers ---------------------------------------------------------------------------

MARKER_NAMES = {"85337-4": "ER", "85339-0": "PR", "48676-1": "HER2", "39004-7": "EGFR_IHC",
                "509910": "ONCOTYPE_DX_RS"}
ANSWERS = {"LA6576-8": BiomarkerResult.POSITIVE, "10828004": BiomarkerResult.POSITIVE,
           "LA6577-6": BiomarkerResult.NEGATIVE, "260385009": BiomarkerResult.NEGATIVE}


@pytest.mark.parametrize("label,resource", TUMOR_MARKERS, ids=_ids(TUMOR_MARKERS))
def test_every_tumor_marker_maps_to_its_marker_and_the_result_the_file_holds(label, resource):
    (marker,) = _facts(resource).biomarkers
    code = resource["code"]["coding"][0]["code"]
    assert marker.name == MARKER_NAMES[code]
    assert marker.code.code == code
    if "valueCodeableConcept" in resource:
        assert marker.result is ANSWERS[resource["valueCodeableConcept"]["coding"][0]["code"]]
    else:
        assert marker.value == resource["valueQuantity"]["value"]


def test_jenny_m_is_her2_negative_er_positive_pr_negative():
    def one(name):
        resource = json.loads((MCODE_DIR / f"Observation-tumor-marker-test-{name}-jenny-m.json").read_text())
        return _facts(resource).biomarkers[0]
    assert (one("her2").name, one("her2").result) == ("HER2", BiomarkerResult.NEGATIVE)
    assert (one("er").name, one("er").result, one("er").method) == ("ER", BiomarkerResult.POSITIVE, "IHC")
    assert (one("pr").name, one("pr").result) == ("PR", BiomarkerResult.NEGATIVE)


def test_oncotype_score_keeps_its_value_and_stays_unknown_without_a_threshold():
    resource = json.loads((MCODE_DIR / "Observation-tumor-marker-test-oncotype-dx-jenny-m.json").read_text())
    marker = _facts(resource).biomarkers[0]
    assert (marker.name, marker.value, marker.result) == ("ONCOTYPE_DX_RS", 47.0, BiomarkerResult.UNKNOWN)


def test_msi_high_and_tmb_57_from_the_genomics_examples():
    msi = _facts(json.loads((MCODE_DIR / "Observation-gx-genomic-msi.json").read_text())).biomarkers[0]
    assert (msi.name, msi.result) == ("MSI", BiomarkerResult.POSITIVE)
    tmb = _facts(json.loads((MCODE_DIR / "Observation-gx-genomic-tmb.json").read_text())).biomarkers[0]
    assert (tmb.name, tmb.value, tmb.result) == ("TMB", 57.1, BiomarkerResult.POSITIVE)


# --- stage -----------------------------------------------------------------------------------

# Read from each file's value display: (stage string, is it a stage group?)
STAGE_VALUES = {
    "tnm-clinical-stage-group-3c": ("IIIC", True),
    "tnm-clinical-stage-group-jenny-m": ("IIB", True),
    "tnm-pathologic-stage-group-jenny-m": ("IIB", True),
    "figo-stage-IIIA": ("IIIA", True),
    "binet-stage-group-B": ("B", True),
    "rai-stage-II": ("II", True),
    "multiple-myeloma-iss-stage-II": ("II", True),
    "multiple-myeloma-riss-stage-II": ("II", True),
    "hodgkins-lymphoma-stage-IIIe": ("IIIE", True),
    "neuroblastoma-inss-stage-III": ("3", True),
    "neuroblastoma-inrgss-stage-MS": ("MS", True),
    "wilms-tumor-stage-III": ("III", True),
    "rhabdomyosarcoma-clinical-group-stage-IA": ("IA", True),
    "melanoma-breslow-depth-stage": ("0.76-1.75 mm", False),
    "melanoma-clark-level-4": ("4", False),
    "gleason-grade-group-4": ("4", False),
}


@pytest.mark.parametrize("label,resource", STAGES, ids=_ids(STAGES))
def test_every_stage_observation_maps_to_the_stage_its_value_names(label, resource):
    stage = _facts(resource).stage
    assert stage is not None
    assert (stage.stage, stage.group) == STAGE_VALUES[resource["id"]]


def test_ajcc_stage_iv_value_and_an_unlisted_ajcc_display_are_both_read():
    resource = json.loads((MCODE_DIR / "Observation-tnm-clinical-stage-group-3c.json").read_text())
    resource["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "1222837003"}]}
    assert _facts(resource).stage.stage == "IV"
    resource["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "999",
                                                    "display": "American Joint Committee on Cancer stage IIIA"}]}
    assert _facts(resource).stage.stage == "IIIA"
    resource["valueCodeableConcept"] = {"text": "see report"}
    assert _facts(resource).stage.stage is None


# --- ECOG ------------------------------------------------------------------------------------

@pytest.mark.parametrize("label,resource", ECOGS, ids=_ids(ECOGS))
def test_every_ecog_example_maps_to_its_integer(label, resource):
    assert _facts(resource).ecog == resource["valueInteger"]


def test_ecog_given_only_as_a_loinc_answer_is_read():
    resource = json.loads((MCODE_DIR / "Observation-ecog-performance-status-jenny-m.json").read_text())
    del resource["valueInteger"]
    resource["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": "LA9624-3"}]}
    assert _facts(resource).ecog == 2


# --- genomic variants ------------------------------------------------------------------------

GENE_MARKERS = {"BRCA1": "BRCA", "BRCA2": "BRCA"}


@pytest.mark.parametrize("label,resource", VARIANTS, ids=_ids(VARIANTS))
def test_every_genomic_variant_maps_one_biomarker_per_gene_with_the_files_result(label, resource):
    markers = _facts(resource).biomarkers
    genes = [c["valueCodeableConcept"]["coding"][0]["display"].upper() for c in resource["component"]
             if c["code"]["coding"][0]["code"] == "48018-6"]
    assert sorted(m.name for m in markers) == sorted(GENE_MARKERS.get(g, g) for g in genes)
    present = resource["valueCodeableConcept"]["coding"][0]["code"] == "LA9633-4"
    expected = BiomarkerResult.POSITIVE if present else BiomarkerResult.NEGATIVE
    assert all(m.result is expected for m in markers)
    assert all((m.variant is not None) == present for m in markers)


def test_named_variants_carry_their_short_protein_change():
    def variant(stem):
        return _facts(json.loads((MCODE_DIR / f"Observation-{stem}.json").read_text())).biomarkers
    (palb2,) = variant("genomic-variant-jenny-m")
    assert (palb2.name, palb2.variant, palb2.method) == ("PALB2", "Y1183*", "NGS")
    (bap1,) = variant("gx-genomic-variant-somatic-bap1-indel")
    assert bap1.variant == "Q590*"
    met, alk = variant("gx-genomic-variant-fusion-met-alk")
    assert (met.name, alk.name, alk.result) == ("MET", "ALK", BiomarkerResult.POSITIVE)
    (brca,) = variant("genomic-variant-germline-deletion")
    assert (brca.name, brca.result) == ("BRCA", BiomarkerResult.POSITIVE)
    negatives = {m.name: m.result for m in variant("gx-genomic-variant-pertinent-negative-nras-kit-braf")}
    assert negatives["NRAS"] is BiomarkerResult.NEGATIVE and negatives["BRAF"] is BiomarkerResult.NEGATIVE


# --- whole Bundles ---------------------------------------------------------------------------

def test_jenny_m_bundle_maps_to_an_order_with_her_stage_markers_and_ecog():
    bundle = json.loads((MCODE_DIR / "Bundle-mcode-patient-bundle-jenny-m.json").read_text())
    order = order_from_bundle(bundle, received_at=NOW)
    dx = order.diagnosis
    assert dx.codes[0].code == "353431000119107"
    assert dx.stage_group == "IIB"          # the referenced stage-group Observation wins
    assert dx.setting is Setting.UNKNOWN     # curative intent, stage IIB: no setting claimed
    assert dx.line_of_therapy is LineOfTherapy.UNKNOWN
    assert order.biomarker("HER2").result is BiomarkerResult.NEGATIVE
    assert order.biomarker("ER").result is BiomarkerResult.POSITIVE
    assert order.biomarker("PR").result is BiomarkerResult.NEGATIVE
    assert order.ecog == 0
    assert order.ordering_provider.npi == "9988776651"
    assert order.member.birth_date.isoformat() == "1965-01-01"
    assert {d.codes[0].code for d in order.drugs} == {"3002", "3639", "56946", "84857"}
    assert "prior-chemotherapy-or-radiation" in order.fn_risk_factors


def test_adam_genomics_bundle_maps_every_variant_and_tmb():
    bundle = json.loads((MCODE_DIR / "Bundle-gx-genomic-bundle-adam-anyperson.json").read_text())
    order = order_from_bundle(bundle, received_at=NOW)
    names = {b.name for b in order.biomarkers}
    assert {"ALK", "MET", "BAP1", "POLRMT", "TMB", "NRAS", "BRAF"} <= names
    assert order.biomarker("ALK").result is BiomarkerResult.POSITIVE
    assert order.biomarker("TMB").value == 57.1
    assert order.drugs == ()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit


# --- immunophenotyping panel (Brian L, B-cell ALL) -------------------------------------------

def _panel(text: str) -> dict[str, str]:
    resource = json.loads((MCODE_DIR / "Observation-immunophenotype-brian-l.json").read_text())
    resource["valueString"] = text
    return {b.name: b.result.value for b in _facts(resource).biomarkers}


def test_brian_l_immunophenotype_reads_each_antigen_the_panel_names_as_positive():
    resource = json.loads((MCODE_DIR / "Observation-immunophenotype-brian-l.json").read_text())
    markers = _facts(resource).biomarkers
    assert {b.name: b.result for b in markers} == {
        "CD10": BiomarkerResult.POSITIVE, "CD79A": BiomarkerResult.POSITIVE, "TDT": BiomarkerResult.POSITIVE,
        "CD19": BiomarkerResult.POSITIVE, "CD20": BiomarkerResult.POSITIVE}
    assert all(b.source_ref == "Observation/immunophenotype-brian-l" and b.effective == "2024-01-07" for b in markers)


def test_a_panel_reads_negative_antigens_and_several_clauses():
    assert _panel("Positive for CD19, CD22 and CD10; negative for CD33 and MPO.") == {
        "CD19": "positive", "CD22": "positive", "CD10": "positive", "CD33": "negative", "MPO": "negative"}


@pytest.mark.parametrize("text", ["positive for CD19 (partial), CD22", "dim CD19, positive for CD22 subset",
                                  "not positive for CD19", "positive for CD19?"])
def test_a_qualified_or_negated_panel_clause_leaves_its_antigens_unread(text):
    assert "CD19" not in _panel(text)


def test_an_antigen_read_both_positive_and_negative_in_one_report_is_unknown():
    assert _panel("positive for CD20 and CD22; negative for CD20") == {"CD20": "unknown", "CD22": "positive"}


def test_a_panel_without_a_list_reads_nothing():
    assert _panel("B-lymphoblasts present") == {}
