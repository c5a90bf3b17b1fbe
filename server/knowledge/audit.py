"""What the knowledge base holds and what in it is not yet verified (`oncopath kb stats|check`).

A pathway committee reviews content by these figures: how many cancer types, pathways, regimens,
drugs and indications; how many facts rest on a primary source (tag V) and which do not. Only V
authorizes at once (Evidence.verified), so an unverified regimen or indication is never on an
auto-approving path: `unverified_on_auto_approving_path` counts any that would be (it must be 0).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from .model import Knowledge


@dataclass(frozen=True)
class Fact:
    kind: str        # regimen | indication | hcpcs | rxnorm | snomed (a diagnosis code's cancer type) | histology
    id: str
    tag: str
    where: str       # cancer type or drug it belongs to
    source: str


def facts(kb: Knowledge) -> list[Fact]:
    out: list[Fact] = []
    for p in kb.pathways:
        for r in p.regimens:
            ev = r.evidence
            out.append(Fact("regimen", r.id, ev.tag if ev else "M", p.cancer_type, ev.cite() if ev else r.source))
    for pol in kb.policies.values():
        for ind in pol.indications:
            ev = ind.evidence
            out.append(Fact("indication", ind.id, ev.tag if ev else "M", pol.drug_key, ev.cite() if ev else ""))
    for key, tags in kb.code_tags.items():
        for (system, code), tag in tags.items():
            out.append(Fact(system, code, tag, key, ""))
    for ct in kb.cancer_types.values():
        for code in ct.snomed:
            out.append(Fact("snomed", code, kb.snomed_tags.get(code, "M"), ct.key, ""))
    for group, pairs in kb.histology_groups.items():
        for system, code in sorted(pairs):
            out.append(Fact("histology", code, kb.histology_tags.get((system, code), "M"), group, ""))
    return out


def stats(kb: Knowledge) -> dict:
    all_facts = facts(kb)
    by_kind: dict[str, Counter] = {}
    for f in all_facts:
        by_kind.setdefault(f.kind, Counter())[f.tag] += 1
    regimens = [r for p in kb.pathways for r in p.regimens]
    managed = [d for d in kb.drugs.values() if d.managed]
    return {
        "version": kb.version,
        "effective": kb.effective.isoformat(),
        "cancer_types": sum(1 for c in kb.cancer_types.values() if not c.agnostic),
        "tumour_agnostic_groups": sum(1 for c in kb.cancer_types.values() if c.agnostic),
        "pathways": len(kb.pathways),
        "pathways_retired": sum(1 for p in kb.pathways if getattr(p, "retired", None)),
        "regimens": len(regimens),
        "drugs": len(kb.drugs),
        "drugs_medical_benefit": len(managed),
        "drugs_pharmacy_benefit": len(kb.drugs) - len(managed),
        "indications": sum(len(p.indications) for p in kb.policies.values()),
        "by_tag": {kind: dict(sorted(c.items())) for kind, c in sorted(by_kind.items())},
        "unverified_on_auto_approving_path": sum(
            1 for r in regimens if r.evidence is not None and r.verified and r.evidence.tag != "V")
        + sum(1 for p in kb.policies.values() for i in p.indications if i.verified and i.evidence.tag != "V"),
    }


def scenario_coverage(kb: Knowledge, scenario_dir: Path, extra: list[dict] = ()) -> dict[str, dict[str, list[str]]]:
    """Per regimen id: the scenarios that expect it on pathway (`positive`: Authorized, or for an oral
    regimen Completed to the pharmacy benefit) and the ones
    written as its off-pathway / off-label variant that must pend, or for an oral regimen stay off
    pathway (`negative_for:`). `extra`: more
    scenarios (the ones generated from the knowledge base)."""
    cover = {r.id: {"positive": [], "negative": []} for p in kb.pathways for r in p.regimens}
    written = []
    for path in sorted(scenario_dir.rglob("*.yaml")):
        if path.name == "catalog.yaml" or "catalog.d" in path.parts:
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        written += doc.get("scenarios") or []
    for sc in [*written, *extra]:
        exp = sc.get("expect") or {}
        # on pathway: Authorized, or for an oral regimen Completed to the pharmacy benefit (R2)
        if exp.get("regimen") in cover and (exp.get("case_status") == "Authorized"
                                            or exp.get("case_status") == "Completed" and exp.get("on_pathway")):
            cover[exp["regimen"]]["positive"].append(sc["id"])
        targets = sc.get("negative_for") or []
        for rid in [targets] if isinstance(targets, str) else targets:
            if rid in cover:
                cover[rid]["negative"].append(sc["id"])
    return cover


def problems(kb: Knowledge, scenario_dir: Path | None, extra: list[dict] = ()) -> list[str]:
    out = [f"unverified {f.kind} {f.id} [{f.tag}] ({f.where})" for f in facts(kb) if f.tag != "V"]
    # R18: a regimen of a pathway retired by this version's effective date can no longer be
    # Authorized; what it still needs is the scenario showing that a request today does not use it
    retired = {r.id for p in kb.pathways if p.retired is not None and p.retired <= kb.effective
               for r in p.regimens}
    if scenario_dir is not None and scenario_dir.is_dir():
        for rid, c in scenario_coverage(kb, scenario_dir, extra).items():
            if not c["positive"] and rid not in retired:
                out.append(f"regimen {rid}: no scenario expects it Authorized on pathway (oral: Completed on pathway)")
            if not c["negative"]:
                out.append(f"regimen {rid}: no off-pathway / off-label scenario (negative_for) must pend")
    return out
