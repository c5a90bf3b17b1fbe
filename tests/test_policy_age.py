"""A label's age range is a policy criterion (issue 14): Venclexta's AML indication is for adults
75 years or older, or with comorbidities that preclude intensive induction (which a record cannot
show: a younger patient pends, never fails); clofarabine's is for patients 1 to 21 years old (an
adult does not meet it)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from server.engine.policy import Regimen, evaluate_indication
from server.domain.order import Code, LineOfTherapy
from server.knowledge.model import ICD10CM

from test_engine_scenarios import KB, order, rx

pytestmark = pytest.mark.unit

START = date(2026, 12, 1)


def indication(drug: str, ind_id: str):
    return next(i for i in KB.policies[drug].indications if i.id == ind_id)


def aml_order(birth: date | None, *drugs):
    o = order(*drugs, cancer="breast", birth=birth, start=START)
    return replace(o, diagnosis=replace(o.diagnosis, codes=(Code(ICD10CM, "C92.00"),)))


AZA_VEN = Regimen(frozenset({"venetoclax"}), frozenset({"targeted"}), frozenset({"venetoclax"}))


def age_check(result):
    return next(c for c in result.checks if c.what == "age")


def test_azacitidine_with_venetoclax_meets_the_age_criterion_at_78():
    r = evaluate_indication(indication("azacitidine", "azacitidine-aml-venetoclax"), "aml",
                            aml_order(date(1948, 5, 1), rx("azacitidine"), rx("venetoclax")), KB, AZA_VEN)
    assert age_check(r).status is True
    assert "75 years or older" in age_check(r).required


def test_azacitidine_with_venetoclax_at_60_is_unknown_not_unmet_because_comorbidities_may_qualify():
    r = evaluate_indication(indication("azacitidine", "azacitidine-aml-venetoclax"), "aml",
                            aml_order(date(1966, 5, 1), rx("azacitidine"), rx("venetoclax")), KB, AZA_VEN)
    assert age_check(r).status is None and r.status is None
    assert "comorbidities that preclude" in age_check(r).required


def test_age_without_a_birth_date_is_unknown():
    r = evaluate_indication(indication("azacitidine", "azacitidine-aml-venetoclax"), "aml",
                            aml_order(None, rx("azacitidine"), rx("venetoclax")), KB, AZA_VEN)
    assert age_check(r).status is None and "age not reported" in age_check(r).reported


def test_clofarabine_age_range_1_to_21_is_not_met_at_45_and_met_at_19():
    ind = indication("clofarabine", "clofarabine-all-pediatric-relapsed")
    mono = Regimen(frozenset(), frozenset(), frozenset())
    adult = evaluate_indication(ind, "all", order(rx("clofarabine"), cancer="breast", birth=date(1981, 2, 2),
                                                   line=LineOfTherapy.THIRD_PLUS,
                                                   start=START), KB, mono)
    young = evaluate_indication(ind, "all", order(rx("clofarabine"), cancer="breast", birth=date(2007, 2, 2),
                                                   line=LineOfTherapy.THIRD_PLUS,
                                                   start=START), KB, mono)
    assert age_check(adult).status is False and adult.status is False
    assert age_check(young).status is True and young.status is True


# "adult patients" in the label's indication text is an age criterion: 18 or older
def test_an_indication_whose_label_names_adult_patients_requires_age_18():
    ind = indication("fam-trastuzumab-deruxtecan", "tdxd-breast-her2-after-prior")
    assert "adult" in ind.evidence.quote.lower()
    assert (ind.age_min, ind.age_max) == (18, None)


def test_an_indication_whose_label_names_pediatric_patients_too_gets_no_adult_age():
    ind = indication("blinatumomab", "blinatumomab-all-relapsed-refractory")
    assert "pediatric" in ind.evidence.quote.lower()
    assert ind.age_min is None


def test_a_16_year_old_does_not_meet_an_adult_label_and_an_18_year_old_does():
    ind = indication("fam-trastuzumab-deruxtecan", "tdxd-breast-her2-after-prior")
    teen = order(cancer="breast", birth=date(2010, 6, 1), start=START)
    adult = order(cancer="breast", birth=date(2008, 6, 1), start=START)
    r = Regimen(frozenset({"fam-trastuzumab-deruxtecan"}), frozenset(), frozenset())
    assert age_check(evaluate_indication(ind, "breast", teen, KB, r)).status is False
    assert age_check(evaluate_indication(ind, "breast", adult, KB, r)).status is True


# prior treatment named by an RxNorm product display the knowledge base does not hold
def test_a_prior_product_named_only_in_its_display_counts_as_the_drug_given_before():
    from server.engine.policy import _given_before
    from server.knowledge.model import RXNORM
    unknown = "0"   # not an RxNorm code: only the display names the drug
    o = replace(order(cancer="breast", start=START),
                prior_medications=(Code(RXNORM, unknown, "SUNItinib 50 MG Oral Capsule [Sutent]"),))
    assert _given_before(o, KB) == {"sunitinib"}


def test_nivolumab_after_sunitinib_meets_the_prior_anti_angiogenic_criterion():
    from server.engine.policy import _after_drugs
    from server.knowledge.model import RXNORM
    ind = indication("nivolumab", "nivolumab-renal-cell-after-antiangiogenic")
    o = replace(order(cancer="breast", start=START),
                prior_medications=(Code(RXNORM, "0", "pazopanib 200 MG Oral Tablet [Votrient]"),))
    assert _after_drugs(ind.after_drugs, o, KB).status is True
    none = replace(o, prior_medications=())
    assert _after_drugs(ind.after_drugs, none, KB).status is None
