"""The knowledge base as a pathway committee reviews it: per cancer type its pathways (criteria,
dates) and regimens (drugs, doses, schedule, febrile-neutropenia risk, source and tag), and per
drug its medical-policy indications with the label text they rest on. Plain data, rendered as
HTML at /knowledge and as JSON at /knowledge.json (server/http/knowledge.py)."""
from __future__ import annotations

from .model import Indication, Knowledge, Pathway, Regimen, RegimenDrug


def catalogue(kb: Knowledge) -> dict:
    by_type: dict[str, list[Pathway]] = {}
    for p in kb.pathways:
        by_type.setdefault(p.cancer_type, []).append(p)
    return {
        "version": kb.version,
        "effective": kb.effective.isoformat(),
        "reviewed": kb.reviewed.isoformat(),
        "cancer_types": [
            {"key": ct.key, "name": ct.name, "kind": ct.kind, "icd10": list(ct.icd10_prefixes),
             "icd10_excludes": list(ct.icd10_excludes),
             "pathways": [_pathway(p, kb) for p in by_type.get(ct.key, [])]}
            for ct in sorted(kb.cancer_types.values(), key=lambda c: (c.kind != "solid", c.kind, c.name))
        ],
        "policies": [
            {"drug": key, "name": kb.drugs[key].name, "hcpcs": [h.code + (" (retired)" if h.retired else "") for h in kb.drugs[key].hcpcs],
             "indications": [_indication(i) for i in pol.indications]}
            for key, pol in sorted(kb.policies.items())
        ],
    }


def _criteria(p: Pathway | Indication) -> list[str]:
    out = []
    if p.settings:
        out.append("setting: " + " or ".join(s.value for s in p.settings))
    if p.lines:
        out.append("line: " + " or ".join(x.value for x in p.lines))
    if getattr(p, "after_prior", 0):
        out.append(f"after {p.after_prior} prior line(s)")
    if p.histology:
        out.append("histology: " + " or ".join(p.histology))
    if p.histology_excludes:
        out.append("not histology: " + ", ".join(p.histology_excludes))
    out += ["requires " + c.describe() for c in p.requires]
    if p.requires_any:
        out.append("requires one of: " + "; ".join(c.describe() for c in p.requires_any))
    out += ["excludes " + c.describe() for c in p.excludes]
    if getattr(p, "ecog_max", None) is not None:
        out.append(f"ECOG <= {p.ecog_max}")
    if getattr(p, "stages", ()):
        out.append("stage: " + ", ".join(p.stages))
    if getattr(p, "partners", ()):
        out.append("with " + " and ".join("/".join(g) for g in p.partners))
    if getattr(p, "monotherapy", False):
        out.append("as monotherapy")
    if getattr(p, "after_drugs", ()):
        out.append("after " + " and ".join("/".join(g) for g in p.after_drugs))
    if getattr(p, "not_after_drugs", ()):
        out.append("not after " + "/".join(p.not_after_drugs))
    lo, hi = getattr(p, "age_min", None), getattr(p, "age_max", None)
    if lo is not None or hi is not None:
        out.append("age " + (f"{lo}-{hi}" if lo is not None and hi is not None else
                             f">= {lo}" if lo is not None else f"<= {hi}"))
    if getattr(p, "menopause", ""):
        out.append(p.menopause)
    if getattr(p, "transplant", ""):
        out.append(f"autologous transplant {p.transplant} (worksheet)")
    if getattr(p, "cisplatin_unfit", False):
        out.append("unfit for cisplatin (eGFR, ECOG)")
    out += _attested(getattr(p, "attests", ()))
    return out


def _attested(attests) -> list[str]:
    return [f"attested on the worksheet: {a.question}" for a in attests]


def _pathway(p: Pathway, kb: Knowledge) -> dict:
    return {"id": p.id, "name": p.name, "criteria": _criteria(p), "effective": p.effective.isoformat(),
            "retired": p.retired.isoformat() if p.retired else None, "source": p.source,
            "regimens": [_regimen(r, kb) for r in p.regimens]}


def _dose(d: RegimenDrug, kb: Knowledge) -> str:
    name = kb.drugs[d.drug_key].name if d.drug_key in kb.drugs else d.drug_key
    dose = f" {d.dose:g} {d.dose_unit}" if d.dose is not None and d.dose_unit else ""
    days = ",".join(str(x) for x in d.administration_days)
    course = "until progression" if d.until_progression else (f"x{d.cycles}" if d.cycles else "")
    every = f" q{d.cycle_length_days}d" if d.cycle_length_days else ""
    alt = f" (or {', '.join(d.alternatives)})" if d.alternatives else ""
    return f"{name}{alt}{dose} day {days}{every} {course}".strip() + (" [optional]" if d.optional else "")


def _regimen(r: Regimen, kb: Knowledge) -> dict:
    ev = r.evidence
    return {"id": r.id, "name": r.name, "fn_risk": r.fn_risk.value, "fn_risk_source": r.fn_risk_source,
            "phases": [{"name": ph.name, "cycle_length_days": ph.cycle_length_days, "cycles": ph.cycles,
                        "drugs": [_dose(d, kb) for d in ph.drugs]} for ph in r.plan],
            "tag": ev.tag if ev else "M", "source": ev.cite() if ev else r.source, "detail": r.source,
            **({"criteria": _attested(r.attests)} if r.attests else {})}


def _indication(i: Indication) -> dict:
    ev = i.evidence
    return {"id": i.id, "cancer_types": list(i.cancer_types), "criteria": _criteria(i),
            "tag": ev.tag if ev else "M", "source": ev.cite() if ev else "", "quote": ev.quote if ev else ""}
