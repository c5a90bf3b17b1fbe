"""A small hand-built Knowledge and an Order builder for engine unit tests.

Not the bundled knowledge base: just enough pathways, drugs and policies to exercise
every rule with known ids (`fake_knowledge()`), built with the model dataclasses.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

from server.domain.decision import Benefit
from server.domain.order import (
    Biomarker,
    BiomarkerResult,
    Code,
    Diagnosis,
    DrugLine,
    DrugRole,
    LineOfBusiness,
    LineOfTherapy,
    Member,
    NetworkStatus,
    Order,
    Provider,
    ProviderKind,
    Setting,
)
from server.knowledge.model import (
    HCPCS,
    ICD10CM,
    RXNORM,
    BiomarkerCriterion,
    CancerType,
    DoseRange,
    Drug,
    DrugCategory,
    DrugPolicy,
    Evidence,
    FnRisk,
    HcpcsCode,
    Indication,
    Knowledge,
    Pathway,
    Regimen,
    RegimenDrug,
    TrialArm,
    build_indexes,
)

POS = (BiomarkerResult.POSITIVE,)
MET = (Setting.METASTATIC,)
EARLY = (Setting.ADJUVANT, Setting.NEOADJUVANT)

RX = {  # drug key -> RxNorm ingredient code (the bundled KB uses the same real codes)
    "docetaxel": "72962", "trastuzumab": "224905", "pertuzumab": "1298944", "pegfilgrastim": "338036",
    "ondansetron": "26225", "palbociclib": "1601374", "letrozole": "72965", "osimertinib": "1721560",
    "carboplatin": "40048", "pemetrexed": "68446", "pembrolizumab": "1547545", "doxorubicin": "3639",
    "cyclophosphamide": "3002", "gemcitabine": "12574", "atezolizumab": "1792776",
    "nab-paclitaxel": "583214", "dabrafenib": "1424911", "trametinib": "1425099",
}


def _drug(key, category, benefit=Benefit.MEDICAL, hcpcs=None, unit=1.0, **kw) -> Drug:
    codes = (HcpcsCode(hcpcs, unit, kw.pop("hcpcs_unit", "mg")),) if hcpcs else ()
    return Drug(key=key, name=key.capitalize(), category=category, benefit=benefit, rxnorm=(RX[key],),
                hcpcs=codes, **kw)


C, T, I, H, S = (DrugCategory.CHEMOTHERAPY, DrugCategory.TARGETED, DrugCategory.IMMUNOTHERAPY,
                 DrugCategory.HORMONAL, DrugCategory.SUPPORTIVE)

DRUGS = [
    _drug("docetaxel", C, hcpcs="J9171", dose_range=(DoseRange("mg/m2", 60, 100),)),
    _drug("trastuzumab", T, hcpcs="J9355", unit=10),
    _drug("pertuzumab", T, hcpcs="J9306"),
    _drug("pegfilgrastim", S, hcpcs="J2506", unit=0.5, growth_factor=True),
    _drug("ondansetron", S, hcpcs="J2405"),
    _drug("palbociclib", T, Benefit.PHARMACY, contact="CarelonRx (pharmacy benefit manager)"),
    _drug("letrozole", H, Benefit.PHARMACY),
    _drug("osimertinib", T, Benefit.PHARMACY),
    _drug("carboplatin", C, hcpcs="J9045", unit=50),
    _drug("pemetrexed", C, hcpcs="J9305", unit=10),
    _drug("pembrolizumab", I, hcpcs="J9271"),
    _drug("doxorubicin", C, hcpcs="J9000", unit=10),
    _drug("cyclophosphamide", C, hcpcs="J9070", unit=100),
    _drug("gemcitabine", C, hcpcs="J9201", unit=200),
    _drug("atezolizumab", I, hcpcs="J9022", unit=10),
    _drug("nab-paclitaxel", C, hcpcs="J9264"),
    _drug("dabrafenib", T, Benefit.PHARMACY),
    _drug("trametinib", T, Benefit.PHARMACY),
]


def _rd(key, length, days=(1,), cycles=None, until=False, **kw) -> RegimenDrug:
    return RegimenDrug(drug_key=key, cycle_length_days=length, administration_days=days, cycles=cycles,
                       until_progression=until, **kw)


THP = Regimen("breast-her2-met-thp", "THP", (
    _rd("docetaxel", 21, cycles=6), _rd("trastuzumab", 21, until=True), _rd("pertuzumab", 21, until=True)),
    fn_risk=FnRisk.INTERMEDIATE, fixed_duration=False, cycle_length_days=21, supportive=("pegfilgrastim",))
DDAC = Regimen("breast-early-ddac", "dose-dense AC", (
    _rd("doxorubicin", 14, cycles=4), _rd("cyclophosphamide", 14, cycles=4)),
    fn_risk=FnRisk.HIGH, fixed_duration=True, planned_cycles=4, cycle_length_days=14)
AC = Regimen("breast-early-ac", "AC q21", (
    _rd("doxorubicin", 21, cycles=4), _rd("cyclophosphamide", 21, cycles=4)),
    fn_risk=FnRisk.INTERMEDIATE, fixed_duration=True, planned_cycles=4, cycle_length_days=21)
PALBO = Regimen("breast-hr-met-palbociclib-letrozole", "Palbociclib + letrozole", (
    _rd("palbociclib", 28, days=tuple(range(1, 22)), until=True), _rd("letrozole", 28, days=tuple(range(1, 29)),
                                                                     until=True)),
    fn_risk=FnRisk.LOW, fixed_duration=False, cycle_length_days=28)
CPP = Regimen("nsclc-nonsq-carbo-pem-pembro", "Carboplatin + pemetrexed + pembrolizumab", (
    _rd("carboplatin", 21, cycles=4), _rd("pemetrexed", 21, until=True), _rd("pembrolizumab", 21, until=True)),
    fn_risk=FnRisk.INTERMEDIATE, fixed_duration=False, cycle_length_days=21)
PEMBRO = Regimen("nsclc-pembrolizumab-mono", "Pembrolizumab", (_rd("pembrolizumab", 21, until=True),),
                 fn_risk=FnRisk.LOW, fixed_duration=False, cycle_length_days=21)
OSI = Regimen("nsclc-egfr-osimertinib", "Osimertinib", (_rd("osimertinib", 28, days=tuple(range(1, 29)),
                                                            until=True),),
              fn_risk=FnRisk.LOW, fixed_duration=False, cycle_length_days=28)
ATEZO = Regimen("breast-tnbc-atezo-nabp", "Atezolizumab + nab-paclitaxel", (
    _rd("atezolizumab", 28, days=(1, 15), until=True), _rd("nab-paclitaxel", 28, days=(1, 8, 15), until=True)),
    fn_risk=FnRisk.LOW, fixed_duration=False, cycle_length_days=28)
GEM_CARBO = Regimen("nsclc-gem-carbo", "Gemcitabine + carboplatin", (
    _rd("gemcitabine", 21, days=(1, 8), cycles=4), _rd("carboplatin", 21, cycles=4)),
    fn_risk=FnRisk.LOW, fixed_duration=True, planned_cycles=4, cycle_length_days=21)

ON = date(2020, 1, 1)
TEST_SOURCE = Evidence("test label", section="1", revised="01/2026", tag="V")


def _pw(id, cancer, settings, lines, regimens, requires=(), excludes=(), **kw) -> Pathway:
    """Regimens of the fake KB are 'verified' unless a test gives one its own Evidence."""
    regimens = tuple(replace(r, evidence=r.evidence or TEST_SOURCE) for r in regimens)
    return Pathway(id=id, name=id.replace("-", " "), cancer_type=cancer, settings=settings, lines=lines,
                   requires=requires, excludes=excludes, regimens=regimens, effective=kw.pop("effective", ON), **kw)


HER2 = BiomarkerCriterion("HER2", POS)
PATHWAYS = (
    _pw("breast-her2pos-metastatic-1l", "breast", MET, (LineOfTherapy.FIRST,), (THP,), requires=(HER2,)),
    _pw("breast-early-chemo", "breast", EARLY, (), (DDAC, AC)),
    _pw("breast-hrpos-her2neg-metastatic-1l", "breast", MET, (LineOfTherapy.FIRST,), (PALBO,),
        requires=(BiomarkerCriterion("ER", POS),), excludes=(HER2,)),
    _pw("breast-tnbc-atezolizumab-retired", "breast", MET, (), (ATEZO,), effective=date(2019, 3, 8),
        retired=date(2021, 8, 27)),
    _pw("nsclc-nonsquamous-metastatic-1l", "nsclc", MET, (LineOfTherapy.FIRST,), (CPP, GEM_CARBO),
        excludes=(BiomarkerCriterion("EGFR", POS), BiomarkerCriterion("ALK", POS)), ecog_max=1),
    _pw("nsclc-pdl1-high-metastatic-1l", "nsclc", MET, (LineOfTherapy.FIRST,), (PEMBRO,),
        requires=(BiomarkerCriterion("PDL1_TPS", POS, min_value=50),)),
    _pw("nsclc-egfr-metastatic-1l", "nsclc", MET, (LineOfTherapy.FIRST,), (OSI,),
        requires=(BiomarkerCriterion("EGFR", POS, variants=("exon 19 deletion", "L858R")),)),
)


def _policy(key, *indications) -> DrugPolicy:
    """Indications of the fake KB are 'verified' unless a test gives one its own Evidence."""
    return DrugPolicy(key, tuple(replace(i, evidence=i.evidence or TEST_SOURCE) for i in indications))


ALL = ("breast", "nsclc", "colorectal", "melanoma")
POLICIES = [
    _policy("trastuzumab", Indication(("breast",), requires=(HER2,))),
    _policy("pertuzumab", Indication(("breast",), requires=(HER2,), settings=MET + EARLY)),
    _policy("docetaxel", Indication(("breast", "nsclc"))),
    _policy("pegfilgrastim", Indication(ALL)),
    _policy("ondansetron", Indication(ALL)),
    _policy("carboplatin", Indication(("breast", "nsclc"))),
    _policy("pemetrexed", Indication(("nsclc",), excludes=(BiomarkerCriterion("EGFR", POS),))),
    _policy("pembrolizumab", Indication(("nsclc",), requires_any=(
        BiomarkerCriterion("PDL1_TPS", POS, min_value=1), BiomarkerCriterion("MSI", POS)))),
    _policy("doxorubicin", Indication(("breast",))),
    _policy("cyclophosphamide", Indication(("breast",))),
    _policy("atezolizumab", Indication(("breast",))),
    _policy("nab-paclitaxel", Indication(("breast",))),
]

CANCERS = [
    CancerType("breast", "Breast cancer", ("C50",)),
    CancerType("nsclc", "Non-small cell lung cancer", ("C34",)),
    CancerType("colorectal", "Colorectal cancer", ("C18", "C19", "C20")),
    CancerType("melanoma", "Melanoma", ("C43",)),
]

TRIALS = (
    TrialArm("NCT02465060", "H", BiomarkerCriterion("BRAF", POS, variants=("V600",)), "dabrafenib + trametinib"),
    TrialArm("NCT02465060", "Z1D", BiomarkerCriterion("MMR", POS), "nivolumab", cancer_types=("colorectal",)),
)


def fake_knowledge(**overrides) -> Knowledge:
    kb = Knowledge(
        version="test-1", effective=date(2020, 1, 1), reviewed=date(2026, 10, 1),
        drugs={d.key: d for d in DRUGS}, policies={p.drug_key: p for p in POLICIES},
        cancer_types={c.key: c for c in CANCERS}, pathways=PATHWAYS, trials=TRIALS,
        fn_risk_factors=frozenset({"age-65-or-older", "prior-chemotherapy-or-radiation", "poor-performance-status",
                                   "advanced-disease"}),
        fn_risk_derived={"age-65-or-older": {"age_at_or_above": 65}, "poor-performance-status": {"ecog_at_or_above": 2},
                         "advanced-disease": {"setting": "metastatic"}},
    )
    return build_indexes(replace(kb, **overrides) if overrides else kb)


# ---------------------------------------------------------------------------------- orders
RECEIVED = datetime(2026, 11, 16, 14, 0, tzinfo=timezone.utc)   # a Monday
ICD = {"breast": "C50.911", "nsclc": "C34.11", "colorectal": "C18.7", "melanoma": "C43.9",
       "pancreatic": "C25.0", "ra": "M06.9"}


def line(key: str, ref: str | None = None, **kw) -> DrugLine:
    """A drug line coded by its RxNorm ingredient code (or an unknown code for 'unknown-*')."""
    code = Code(RXNORM, RX.get(key, "999999"), key)
    return DrugLine(ref=ref or f"MedicationRequest/{key}", codes=(code,), display=key, **kw)


def marker(name: str, result: str = "positive", **kw) -> Biomarker:
    return Biomarker(name=name, result=BiomarkerResult(result), **kw)


def order(*drugs: DrugLine, cancer: str = "breast", setting: Setting = Setting.METASTATIC,
          line_of_therapy: LineOfTherapy = LineOfTherapy.FIRST, stage: str | None = "IV",
          biomarkers=(), lob: LineOfBusiness = LineOfBusiness.MEDICARE_ADVANTAGE,
          start: date | None = date(2026, 11, 20), received: datetime = RECEIVED,
          provider_kind: ProviderKind = ProviderKind.INDIVIDUAL,
          provider_network: NetworkStatus = NetworkStatus.IN_NETWORK,
          birth: date | None = date(1970, 5, 1), request_id: str = "req-1", **kw) -> Order:
    return Order(
        request_id=request_id,
        member=Member(id="M1", birth_date=birth, line_of_business=lob),
        ordering_provider=Provider(npi="1234567893", name="Dr A", kind=provider_kind,
                                   network_status=provider_network),
        servicing_provider=None,
        diagnosis=Diagnosis(codes=(Code(ICD10CM, ICD[cancer]),), stage_group=stage, setting=setting,
                            line_of_therapy=line_of_therapy),
        drugs=tuple(drugs), treatment_start=start, received_at=received, biomarkers=tuple(biomarkers), **kw)


def thp(**kw) -> tuple[DrugLine, ...]:
    return (line("docetaxel", **kw), line("trastuzumab", **kw), line("pertuzumab", **kw))


def her2(result: str = "positive") -> Biomarker:
    return marker("HER2", result)


__all__ = ["fake_knowledge", "line", "marker", "order", "thp", "her2", "DrugRole", "HCPCS"]


def as_if_verified(kb: Knowledge) -> Knowledge:
    """The bundled knowledge base with every regimen and indication source treated as primary
    (tag V): for tests of calendars, figures and wording, where what is checked is not whether a
    fact was verified (tests/test_knowledge_verification.py checks that) but what follows from it."""
    def v(ev: Evidence | None) -> Evidence:
        return replace(ev, tag="V") if ev is not None else TEST_SOURCE
    pathways = tuple(replace(p, regimens=tuple(replace(r, evidence=v(r.evidence)) for r in p.regimens))
                     for p in kb.pathways)
    policies = {k: replace(pol, indications=tuple(replace(i, evidence=v(i.evidence)) for i in pol.indications))
                for k, pol in kb.policies.items()}
    return build_indexes(replace(kb, pathways=pathways, policies=policies))
