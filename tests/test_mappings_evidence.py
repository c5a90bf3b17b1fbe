"""Issue 12, the mapping half of the evidence model: every reading carries its Observation, date
and specimen; GenomicVariant HGVS is read structurally; new verified codes; the VCF LOINC is not
a result; every Coverage of the member is read."""
from __future__ import annotations

from datetime import datetime, timezone

from mappings import order_from_bundle
from mappings.observation import observation_facts
from server.domain.order import BiomarkerResult, LineOfBusiness
from server.engine import decide
from server.engine.criteria import variant_matches
from server.knowledge.loader import load_knowledge

LOINC = "http://loinc.org"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def obs(id, code, display="", **value):
    return {"resourceType": "Observation", "id": id, "status": "final", "effectiveDateTime": "2026-11-01",
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]}, **value}


def variant(id, gene_hgnc, symbol, protein):
    return {"resourceType": "Observation", "id": id, "status": "final", "effectiveDateTime": "2026-10-20",
            "code": {"coding": [{"system": LOINC, "code": "69548-6"}]},
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9633-4", "display": "Present"}]},
            "component": [
                {"code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                 "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org", "code": gene_hgnc,
                                                      "display": symbol}]}},
                {"code": {"coding": [{"system": LOINC, "code": "48005-3"}]},
                 "valueCodeableConcept": {"text": protein}}]}


def test_an_hgvs_coded_egfr_exon19_deletion_is_read_as_an_exon_19_deletion():
    (b,) = observation_facts(variant("egfr", "HGNC:3236", "EGFR", "p.Glu746_Ala750del"), "x").biomarkers
    assert (b.name, b.protein_hgvs, b.exon, b.variant_type) == ("EGFR", "p.Glu746_Ala750del", 19, "deletion")
    assert variant_matches("exon 19 deletion", b) is True and variant_matches("L858R", b) is False
    assert (b.source_ref, b.effective) == ("Observation/egfr", "2026-10-20")


def test_egfr_p_leu858arg_is_l858r():
    (b,) = observation_facts(variant("egfr", "HGNC:3236", "EGFR", "p.Leu858Arg"), "x").biomarkers
    assert b.variant == "L858R" and b.variant_type == "substitution"
    assert variant_matches("L858R", b) is True and variant_matches("exon 19 deletion", b) is False


def test_loinc_83059_6_a_vcf_file_is_not_read_as_a_kras_result():
    facts = observation_facts(obs("vcf", "83059-6", "KRAS gene mutations found [Identifier] in Blood or Tissue",
                                  valueString="G12D"), "x")
    assert facts.biomarkers == ()


def test_cd20_by_ihc_is_read_so_the_rchop_policy_can_see_it():
    (b,) = observation_facts(obs("cd20", "10438-0", "CD20 Ag [Presence] in Tissue by Immune stain",
                                 valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6576-8"}]}),
                             "x").biomarkers
    assert (b.name, b.result, b.method, b.specimen) == ("CD20", BiomarkerResult.POSITIVE, "IHC", "tissue")


def test_the_mss_answer_code_is_msi_negative():
    (b,) = observation_facts(obs("msi", "81695-9", "Microsatellite instability [Interpretation] in Cancer specimen",
                                 valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA14122-8",
                                                                   "display": "Stable"}]}), "x").biomarkers
    assert (b.name, b.result) == ("MSI", BiomarkerResult.NEGATIVE)


def _coverage(id, text):
    return {"resourceType": "Coverage", "id": id, "status": "active", "type": {"text": text},
            "beneficiary": {"reference": "Patient/p"}, "payor": [{"display": text}]}


def test_medicare_advantage_and_medicaid_coverages_make_a_dual_eligible_member_outside_the_program():
    bundle = {"resourceType": "Bundle", "type": "collection", "id": "dual", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01"}},
        {"resource": _coverage("ma", "Medicare Advantage")},
        {"resource": _coverage("mcd", "Medicaid")},
        {"resource": {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
                      "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C50.912"}]}}},
        {"resource": {"resourceType": "MedicationRequest", "id": "m", "status": "draft", "intent": "order",
                      "subject": {"reference": "Patient/p"},
                      "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                                "code": "224905"}]}}}]}
    order = order_from_bundle(bundle, received_at=NOW)
    assert set(order.member.coverages) == {LineOfBusiness.MEDICARE_ADVANTAGE, LineOfBusiness.MEDICAID}
    d = decide(order, load_knowledge())
    assert not d.in_program and "Dual-eligible" in d.program_reason.text

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.unit
