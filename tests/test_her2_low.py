"""HER2-low as the Enhertu label defines it (IHC 1+ or IHC 2+/ISH-), read from the IHC score a
pathology report states, and a label's "prior chemotherapy" read as a drug category in the record's
treatment history (2027.1.4)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from mappings.observation import observation_facts
from server.domain.order import Biomarker, BiomarkerResult, Code, PriorCourse
from server.engine.criteria import evaluate_biomarker, reported_words
from server.engine.policy import evaluate_indication
from server.knowledge.loader import load_knowledge
from server.knowledge.model import RXNORM, BiomarkerCriterion, Indication, ProgressionInterval
from test_engine_scenarios import order, rx

pytestmark = pytest.mark.unit

KB = load_knowledge()
LOINC = "http://loinc.org"
HER2_LOW = next(c for c in next(i for i in KB.indications_for("fam-trastuzumab-deruxtecan", "breast")
                                 if i.id == "tdxd-breast-her2-low-after-chemo").requires if c.ihc_score)


def ihc(answer: str, id: str = "her2-ihc") -> dict:
    return {"resourceType": "Observation", "id": id, "status": "final", "effectiveDateTime": "2026-10-20",
            "code": {"coding": [{"system": LOINC, "code": "85319-2"}]}, "valueString": answer}


def reading(answer: str) -> Biomarker:
    (b,) = observation_facts(ihc(answer), "x").biomarkers
    return b


def her2_low(*readings: Biomarker):
    o = replace(order(rx("fam-trastuzumab-deruxtecan")), biomarkers=tuple(readings))
    return evaluate_biomarker(HER2_LOW, o)[0]


def test_a_her2_ihc_answer_keeps_its_score_beside_its_result():
    one, two, three = reading("1+"), reading("IHC 2+"), reading("3+")
    assert (one.result, one.value) == (BiomarkerResult.NEGATIVE, 1.0)
    assert (two.result, two.value) == (BiomarkerResult.EQUIVOCAL, 2.0)
    assert (three.result, three.value) == (BiomarkerResult.POSITIVE, 3.0)
    assert reported_words("HER2", one) == "HER2 negative (IHC 1+)"


def test_an_answer_naming_no_single_score_keeps_none():
    b = reading("0-1+")
    assert b.result is BiomarkerResult.NEGATIVE and b.value is None
    assert her2_low(b) is None          # 0 or 1+: HER2-low cannot be told, a clinician reviews


def test_ihc_1_plus_and_2_plus_are_her2_low_and_ihc_0_and_3_plus_are_not():
    assert her2_low(reading("1+")) is True
    assert her2_low(reading("2+")) is True
    assert her2_low(reading("0")) is False
    assert her2_low(reading("3+")) is False


def test_the_criterion_reads_as_the_label_words_it():
    assert HER2_LOW.describe() == "HER2 IHC 1+ to 2+"


def test_ihc_2_plus_with_a_negative_ish_meets_the_label_and_without_ish_pends():
    ind = next(i for i in KB.indications_for("fam-trastuzumab-deruxtecan", "breast")
               if i.id == "tdxd-breast-her2-low-after-chemo")
    ish_negative = Biomarker(name="HER2", result=BiomarkerResult.NEGATIVE, method="ISH", effective="2026-10-22")
    base = replace(order(rx("fam-trastuzumab-deruxtecan")), prior_courses=(
        PriorCourse((Code(RXNORM, KB.drugs["paclitaxel"].rxnorm[0]),), date(2026, 7, 27)),),
        progressions=(date(2026, 10, 26),), treatment_start=date(2026, 12, 1))

    def her2_checks(*readings):
        result = evaluate_indication(ind, "breast", replace(base, biomarkers=readings), KB)
        return [c.status for c in result.checks if "HER2" in c.required]

    assert her2_checks(reading("2+"), ish_negative) == [True, True]
    assert None in her2_checks(reading("2+"))           # equivocal until ISH settles it


def test_prior_chemotherapy_counts_any_chemotherapy_drug_of_the_record():
    ind = Indication(cancer_types=("breast",), id="test-after-chemotherapy",
                     progression=ProgressionInterval(("category:chemotherapy",), 6, True, "after chemotherapy"))
    course = PriorCourse((Code(RXNORM, KB.drugs["paclitaxel"].rxnorm[0]),), date(2026, 7, 27))
    endocrine = PriorCourse((Code(RXNORM, KB.drugs["tamoxifen"].rxnorm[0]),), date(2026, 9, 1))
    o = replace(order(rx("fam-trastuzumab-deruxtecan")), progressions=(date(2026, 10, 26),),
                treatment_start=date(2026, 12, 1))

    def interval(*courses):
        result = evaluate_indication(ind, "breast", replace(o, prior_courses=courses), KB)
        return next(c for c in result.checks if c.what == "progression interval")

    met = interval(course, endocrine)
    assert met.status is True and "last dose 2026-07-27" in met.reported     # tamoxifen is not chemotherapy
    assert "chemotherapy dose" in met.required and "category:" not in met.required
    assert interval(endocrine).status is None                                # no chemotherapy on record


def test_the_worksheet_shows_the_ihc_score_as_the_report_words_it():
    from server.worksheets.service import prefill
    o = replace(order(rx("fam-trastuzumab-deruxtecan")), biomarkers=(reading("2+"),))
    assert prefill(o)["biomarkers.HER2.value"] == "IHC 2+"
