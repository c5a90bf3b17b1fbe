"""A knowledge base k times the size of the bundled one, for the decision-time scaling curve.

Copy i (1 <= i < k) of every cancer type, drug, policy, pathway, regimen and trial arm gets
renamed keys and ids (suffix `~s<i>`) and codes of its own, so that no copy ever matches a real
order: the real order still finds its one regimen, and what grows is everything the engine
must not be slowed down by. The copies are put *before* the originals in every dict and tuple,
so that any linear scan in the engine or the indexes pays for the whole base.
Built in memory through the model and `build_indexes`, like the loader does.
"""
from __future__ import annotations

from dataclasses import replace

from server.knowledge.model import (
    CancerType, Drug, Indication, Knowledge, Pathway, Regimen, TrialArm, build_indexes,
)


def _suffix(i: int) -> str:
    return f"~s{i}"


def _drug(d: Drug, i: int) -> Drug:
    return replace(d, key=d.key + _suffix(i), name=f"{d.name} (synthetic {i})",
                   rxnorm=tuple(f"{code}{_suffix(i)}" for code in d.rxnorm),
                   hcpcs=tuple(replace(h, code=f"{h.code}{_suffix(i)}") for h in d.hcpcs),
                   ndc_prefixes=tuple(f"9{i:04d}-{p}" for p in d.ndc_prefixes))


def _cancer_type(ct: CancerType, i: int) -> CancerType:
    # ICD-10-CM codes start with a letter: "Q<i>..." prefixes never match a real C-code.
    # A copy of a tumour-agnostic group stays data (its pathways and indications count), but it is
    # not agnostic: 1000 copies of six groups applying to every solid type would model 6000
    # tumour-agnostic indications per patient, not a larger knowledge base.
    return replace(ct, key=ct.key + _suffix(i), kind="solid" if ct.agnostic else ct.kind,
                   icd10_prefixes=tuple(f"Q{i:04d}{p}" for p in ct.icd10_prefixes),
                   snomed=tuple(f"{s}{i:04d}" for s in ct.snomed),
                   histology_snomed=tuple(f"{s}{i:04d}" for s in ct.histology_snomed))


def _indication(ind: Indication, i: int) -> Indication:
    return replace(ind, cancer_types=tuple(c + _suffix(i) for c in ind.cancer_types))


def _regimen(r: Regimen, i: int) -> Regimen:
    drugs = tuple(replace(d, drug_key=d.drug_key + _suffix(i),
                          alternatives=tuple(a + _suffix(i) for a in d.alternatives)) for d in r.drugs)
    return replace(r, id=r.id + _suffix(i), drugs=drugs, supportive=tuple(s + _suffix(i) for s in r.supportive))


def _pathway(p: Pathway, i: int) -> Pathway:
    return replace(p, id=p.id + _suffix(i), cancer_type=p.cancer_type + _suffix(i),
                   regimens=tuple(_regimen(r, i) for r in p.regimens))


def _trial(t: TrialArm, i: int) -> TrialArm:
    return replace(t, nct_id=f"{t.nct_id}{_suffix(i)}", drug=t.drug + _suffix(i),
                   cancer_types=tuple(c + _suffix(i) for c in t.cancer_types))


def multiply(kb: Knowledge, factor: int) -> Knowledge:
    """`kb` with factor-1 renamed copies of its content added (factor 1 = an equal rebuild)."""
    if factor < 1:
        raise ValueError("factor must be >= 1")
    copies = range(1, factor)
    drugs = {d.key: d for i in copies for d in (_drug(x, i) for x in kb.drugs.values())}
    drugs.update(kb.drugs)
    policies = {p.drug_key: p for i in copies for p in
                (replace(x, drug_key=x.drug_key + _suffix(i),
                         indications=tuple(_indication(ind, i) for ind in x.indications))
                 for x in kb.policies.values())}
    policies.update(kb.policies)
    cancer_types = {c.key: c for i in copies for c in (_cancer_type(x, i) for x in kb.cancer_types.values())}
    cancer_types.update(kb.cancer_types)
    pathways = tuple(_pathway(p, i) for i in copies for p in kb.pathways) + tuple(kb.pathways)
    trials = tuple(_trial(t, i) for i in copies for t in kb.trials) + tuple(kb.trials)
    grown = Knowledge(version=f"{kb.version}+x{factor}", effective=kb.effective, reviewed=kb.reviewed,
                      drugs=drugs, policies=policies, cancer_types=cancer_types, pathways=pathways,
                      trials=trials, fn_risk_factors=kb.fn_risk_factors)
    return build_indexes(grown)


def size(kb: Knowledge) -> dict[str, int]:
    return {"cancer_types": len(kb.cancer_types), "pathways": len(kb.pathways),
            "regimens": sum(len(p.regimens) for p in kb.pathways), "drugs": len(kb.drugs),
            "policies": len(kb.policies), "trial_arms": len(kb.trials)}


__all__ = ["multiply", "size"]
