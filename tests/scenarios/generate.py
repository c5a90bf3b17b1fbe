"""Scenarios generated from the knowledge base (issue 14): for every regimen of every active
pathway, a patient who meets the pathway's criteria and the label criteria of the regimen's drugs
(the on-pathway scenario), and an off-label variant of the same patient that must pend.

The generator reads the knowledge base only for what to test (which regimens, which criteria);
the codes it writes come from the scenario catalog (catalog.yaml, catalog.d/), never from the
knowledge base. What it cannot express (a biomarker the catalog has no code for, a variant-level
criterion, a histology group without a catalog entry) it skips and says why (`skipped()`).

Expected answers: the on-pathway scenario is Authorized on its pathway and regimen when the
regimen and every indication it relies on rest on a primary source (tag V); otherwise the same
match pends "unverified knowledge". The variant is never Authorized.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

from server.domain.order import LineOfTherapy, Setting
from server.knowledge.loader import load_knowledge
from server.knowledge.model import BiomarkerCriterion, Indication, Knowledge, Pathway, Regimen

from .build import CATALOG, START

# a solid tumour's metastatic site (ICD-10-CM C78.7 Secondary malignant neoplasm of liver)
METASTATIC_SITE = "C78.7"
_SKIPPED: list[tuple[str, str]] = []


def skipped() -> list[tuple[str, str]]:
    generated_scenarios()
    return list(_SKIPPED)


class Skip(Exception):
    pass


@lru_cache(maxsize=1)
def _diagnosis_codes() -> dict[str, str]:
    """A billable ICD-10-CM code per cancer type: the first leaf of its first family not excluded."""
    import simple_icd_10_cm as cm
    kb = load_knowledge()
    out = {}
    for ct in kb.cancer_types.values():
        for fam in ct.icd10_prefixes:
            leaves = [c for c in [fam, *cm.get_descendants(fam)] if cm.is_leaf(c)
                      and not any(c == x or c.startswith(x) for x in ct.icd10_excludes)]
            if leaves:
                out[ct.key] = leaves[0]
                break
    return out


def _diagnosis_code(ct, excluded: tuple[str, ...]) -> str | None:
    import simple_icd_10_cm as cm
    for fam in ct.icd10_prefixes:
        for c in [fam, *cm.get_descendants(fam)]:
            if cm.is_leaf(c) and not any(c.startswith(x) for x in (*ct.icd10_excludes, *excluded)):
                return c
    return None


def _histology_for(kb: Knowledge, required: list[tuple[str, ...]], excludes: tuple[str, ...]) -> str | None:
    """A catalog histology that names a group of every non-empty set in `required` and none excluded."""
    snomed, icdo3 = "http://snomed.info/sct", "http://terminology.hl7.org/CodeSystem/icd-o-3"
    for name, h in CATALOG["histology"].items():
        named = set(kb.histology_by_code.get((snomed, h["code"]), ())) if h.get("code") else set()
        if h.get("icdo3"):
            named |= set(kb.histology_by_code.get((icdo3, h["icdo3"]), ()))
        if all(named & set(groups) for groups in required if groups) and not named & set(excludes):
            return name
    return None


# IUPAC one-letter -> three-letter amino-acid codes (HGVS protein nomenclature)
_AA = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "E": "Glu", "Q": "Gln", "G": "Gly",
       "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
       "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val"}
_SUBST = re.compile(r"^([A-Z])(\d+)([A-Z])$")


def _protein(variants: tuple[str, ...]) -> str | None:
    """An HGVS protein change for the first substitution a criterion names ("L858R" -> p.Leu858Arg)."""
    for v in variants:
        m = _SUBST.match(v.strip().upper())
        if m and m.group(1) in _AA and m.group(3) in _AA:
            return f"p.{_AA[m.group(1)]}{m.group(2)}{_AA[m.group(3)]}"
    return None


def _marker_spec(c: BiomarkerCriterion, meet: bool) -> dict:
    """A reading that meets the criterion (meet=True) or fails it."""
    markers, genes = CATALOG["markers"], CATALOG["genes"]
    required = c.results[0].value
    want = required if meet else ("positive" if required == "negative" else "negative")
    # a program marker read from a gene of another symbol (BRCA from BRCA1, NTRK from NTRK1)
    gene = CATALOG.get("marker_genes", {}).get(c.marker, c.marker)

    def gene_spec(**reading) -> dict:
        spec = {"gene": gene, **reading}
        return spec if gene == c.marker else dict(spec, of=c.marker)

    if c.ihc_score:
        # an IHC score range (HER2-low, IHC 1+ to 2+): the IHC reading as a pathology report words it,
        # its lowest score to meet the range, IHC 0 to fail it
        m = CATALOG["markers"].get(c.marker) or {}
        if not m.get("ihc_loinc"):
            raise Skip(f"no catalog IHC code for {c.marker}")
        score = int(c.min_value or 0) if meet else (0 if (c.min_value or 0) > 0 else int(c.max_value) + 1)
        return {"marker": c.marker, "loinc": m["ihc_loinc"], "display": m.get("ihc_display"), "string": f"{score}+" if score else "0"}
    if c.variants and meet and want == "positive" and {v.lower() for v in c.variants} == {"fusion"}:
        if gene not in genes:
            raise Skip(f"no catalog gene for {c.marker}")
        return gene_spec(variant_text=f"{gene} fusion", result="present")
    if c.variants and meet and want == "positive":
        protein = _protein(c.variants)
        if protein is None or c.marker not in genes:
            raise Skip(f"variant-level criterion {c.describe()}")
        return {"gene": c.marker, "protein": protein, "result": "present"}
    if c.threshold:
        m = markers.get(c.marker)
        if m is None:
            raise Skip(f"no catalog code for {c.marker}")
        floor = c.min_value if c.min_value is not None else 0
        value = floor if meet else max(floor - 1, 0)
        if c.max_value is not None and meet:
            value = min(value, c.max_value)
        return {"marker": c.marker, ("percent" if m.get("percent") else "score"): value}
    if c.marker in markers and not markers[c.marker].get("percent") and not markers[c.marker].get("score"):
        answer = {"high": "msi-high"}.get(want, want)
        if answer not in CATALOG["answers"]:
            raise Skip(f"no catalog answer for {c.marker} {want}")
        return {"marker": c.marker, "result": answer}
    if gene in genes and want in ("positive", "negative"):
        return gene_spec(result="present" if want == "positive" else "absent")
    raise Skip(f"no catalog code for {c.marker} {want}")


def _writable(ind: Indication) -> bool:
    """Every biomarker the indication requires has a reading the catalog can write."""
    try:
        for c in (*ind.requires, *ind.requires_any[:1]):
            _marker_spec(c, True)
    except Skip:
        return False
    return True


def _merge(markers: dict[str, dict], c: BiomarkerCriterion, spec: dict) -> None:
    """Two criteria on one marker (a pathway's TPS >= 50 and a label's TPS >= 1): the stricter."""
    old = markers.get(c.marker)
    for k in ("percent", "score"):
        if old and k in old and k in spec:
            spec = dict(spec, **{k: max(old[k], spec[k])})
    markers[c.marker] = spec


def _conflicts(ind: Indication, p: Pathway) -> bool:
    """The indication asks a biomarker result the pathway rules out (HER2 positive vs HER2-low)."""
    want = {c.marker: set(c.results) for c in p.requires}
    for c in p.requires_any:
        want.setdefault(c.marker, set()).update(c.results)
    for c in p.excludes:
        want.setdefault(c.marker, set())
    for c in ind.requires:
        if c.marker in want and (not want[c.marker] or not want[c.marker] & set(c.results)):
            return True
    return any(c.marker in {x.marker for x in p.requires if set(x.results) & set(c.results)} for c in ind.excludes)


def _indication_for(kb: Knowledge, drug: str, cancer: str, setting: Setting, line: LineOfTherapy,
                    regimen: Regimen, p: Pathway | None = None,
                    histology: frozenset[str] = frozenset()) -> Indication | None:
    """The drug's label indication this regimen is given under: its cancer type, setting, line
    and partners, consistent with the pathway's biomarkers (the first that fits)."""
    # the cancer type's own indications first, a tumour-agnostic group's last; among them those
    # whose biomarkers the catalog can write (blinatumomab's relapsed label, not its MRD one)
    # and, of those, a verified one first (TPF's cisplatin: the induction label, not the unread
    # chemoradiation entry), so the scenario expects what a verified indication allows
    own = sorted(kb.indications_for(drug, cancer),
                 key=lambda i: (cancer not in i.cancer_types, not _writable(i), not i.verified))
    for ind in own:
        if p is not None and _conflicts(ind, p):
            continue
        if p is not None and p.histology and ind.histology and not set(ind.histology) & set(p.histology):
            continue        # a squamous-only label for a non-squamous pathway's regimen
        if histology and ind.histology and not set(ind.histology) & histology:
            continue        # another drug's label already fixed the histology (atezolizumab: non-squamous)
        if ind.settings and setting not in ind.settings:
            continue
        if setting in ind.excludes_settings:
            continue        # a locoregional label (cetuximab with radiation) for a metastatic pathway
        if ind.stages and p is not None and p.settings and setting in (Setting.METASTATIC, Setting.MAINTENANCE) \
                and not any(st.upper().startswith("IV") for st in ind.stages):
            continue        # an early-stage label (limited-stage consolidation) for a metastatic pathway
        if ind.lines and line not in ind.lines:
            continue
        if ind.after_prior and line is LineOfTherapy.FIRST:
            continue
        if not _fits_regimen(kb, ind, regimen):
            continue
        return ind
    return None


def _fits_regimen(kb: Knowledge, ind: Indication, regimen: Regimen) -> bool:
    """The indication's partners and monotherapy limit allow this regimen's drugs. A partner group
    is met by a named drug of the regimen or by a drug of the named category ("category:chemotherapy":
    trastuzumab with chemotherapy, not trastuzumab-pertuzumab alone)."""
    keys = {d.drug_key for d in regimen.drugs}
    categories = {f"category:{kb.drugs[k].category.value}" for k in keys if k in kb.drugs}
    if ind.partners and not all(any(g in keys or g in categories for g in group) for group in ind.partners):
        return False
    return not (ind.monotherapy and len([d for d in regimen.drugs if not d.optional]) > 1)


_AFTER = {1: (LineOfTherapy.SECOND, LineOfTherapy.THIRD_PLUS), 2: (LineOfTherapy.THIRD_PLUS,)}


def _setting_of(p: Pathway) -> Setting:
    return p.settings[0] if p.settings else Setting.METASTATIC


def _line_of(p: Pathway, setting: Setting) -> LineOfTherapy:
    if p.lines:
        return p.lines[0]
    return LineOfTherapy.FIRST


def _order(r: Regimen, kb: Knowledge | None = None, indications: list[Indication] = ()) -> list[dict]:
    first = r.plan[0]
    out = []
    # an optional drug is ordered when a label the scenario relies on names it as the partner
    # (obinutuzumab's CLL indication is "with venetoclax": without it the order is off-label)
    partners = {k for i in indications for group in i.partners for k in group}
    for d in first.drugs:
        if d.optional and d.drug_key not in partners:
            continue
        if kb is not None and d.drug_key in kb.drugs and not (kb.drugs[d.drug_key].rxnorm or kb.drugs[d.drug_key].hcpcs
                                                                  or kb.drugs[d.drug_key].ndc_prefixes):
            raise Skip(f"{d.drug_key} has no code in the knowledge base: the order cannot name it")
        if d.drug_key not in CATALOG["drugs"]:
            raise Skip(f"no catalog codes for drug {d.drug_key}")
        dose, unit = d.dose, d.dose_unit
        if (dose is None or not unit) and kb is not None and d.drug_key in kb.drugs and kb.drugs[d.drug_key].dose_range:
            # a dose the regimen does not fix is not compared (carboplatin AUC, ABVD as the trials
            # were read): the order carries the floor of the drug's own dose range
            dose, unit = kb.drugs[d.drug_key].dose_range[0].min, kb.drugs[d.drug_key].dose_range[0].unit
        if dose is None or not unit:
            raise Skip(f"{d.drug_key}: no dose in the regimen")
        # A cycle-specific dose (a loading dose in cycle 1) is ordered on the regular schedule, as
        # the hand-written scenarios order trastuzumab; cycle-specific extra days (obinutuzumab days
        # 1, 8, 15 of cycle 1) cannot be: the builder writes one Timing per drug.
        overrides = d.schedules[0].overrides if d.schedules else ()
        day_overrides = [o for o in overrides if o.days]
        if day_overrides and (len(day_overrides) > 1 or day_overrides[0].cycles != (1,)):
            raise Skip(f"{d.drug_key}: cycle-specific days beyond cycle 1")
        line = {"drug": d.drug_key, "dose": dose, "unit": unit,
                "cycle_days": d.cycle_length_days or first.cycle_length_days,
                "days": list(d.administration_days)}
        if d.frequency_per_day != 1:
            line["per_day"] = d.frequency_per_day    # the builder writes per_day x days per cycle
        if d.until_progression or first.cycles is None and not d.cycles:
            line["until_progression"] = True
        else:
            line["cycles"] = d.cycles or first.cycles
        if day_overrides:
            # cycle 1 on its own days (obinutuzumab days 1, 8, 15), then the regular days from
            # cycle 2: two dose segments of one order, as the hand-written scenarios write it
            o = day_overrides[0]
            rest = {k: line[k] for k in ("days", "until_progression", "cycles") if k in line}
            if rest.get("cycles") is not None:
                if rest["cycles"] < 2:
                    raise Skip(f"{d.drug_key}: a one-cycle course with cycle-specific days")
                rest["cycles"] -= 1
            second = date.fromisoformat(START) + timedelta(days=line["cycle_days"])
            line = {**{k: v for k, v in line.items() if k not in ("until_progression",)},
                    "days": list(o.days), "cycles": 1,
                    "then": [{**rest, "start": second.isoformat()}]}
            if o.dose is not None:
                line["dose"] = o.dose
        out.append(line)
    if not out:
        raise Skip("no drug to order")
    return out


def _patient(kb: Knowledge, p: Pathway, r: Regimen, cancer: str,
             setting: Setting | None = None) -> tuple[dict, list[Indication]]:
    setting = setting or _setting_of(p)
    line = _line_of(p, setting)
    ct = kb.cancer_types[cancer]
    # the line every drug's label allows: a later line when one needs prior therapy
    # per drug the fewest prior lines one of its labels asks (0 when one needs none), then the most
    # any drug needs: amivantamab with lazertinib first line is not pushed to 2L by amivantamab's
    # later-line label
    def fewest(key: str) -> int:
        fits = [i.after_prior or 0 for i in kb.indications_for(key, cancer)
                if (not i.settings or setting in i.settings) and _fits_regimen(kb, i, r)]
        return min(fits, default=0)
    needs = max((fewest(d.drug_key) for d in r.drugs if not d.optional), default=0)
    if needs and line not in _AFTER.get(needs, _AFTER[2]):
        choices = [x for x in _AFTER.get(needs, _AFTER[2]) if not p.lines or x in p.lines]
        if choices:
            line = choices[0]
    code = _diagnosis_codes().get(cancer)
    if code is None:
        raise Skip(f"no billable ICD-10-CM code for {cancer}")
    indications = []
    fixed: frozenset[str] = frozenset()
    # the drug with the fewest labels first: its histology (atezolizumab: non-squamous) then
    # steers the choice among a platinum's squamous and non-squamous labels
    managed = [d for d in r.drugs if not d.optional and d.drug_key in kb.drugs and kb.drugs[d.drug_key].managed]
    for d in sorted(managed, key=lambda d: len(kb.indications_for(d.drug_key, cancer))):
        ind = _indication_for(kb, d.drug_key, cancer, setting, line, r, p, fixed)
        if ind is None:
            raise Skip(f"{d.drug_key}: no label indication for {cancer} {setting.value} {line.value}")
        indications.append(ind)
        if ind.histology:
            fixed = fixed & set(ind.histology) if fixed else frozenset(ind.histology)
    required = [tuple(p.histology), tuple(ct.histology), *(tuple(i.histology) for i in indications)]
    hist_excl = tuple(p.histology_excludes) + tuple(ct.histology_excludes) + \
        tuple(g for i in indications for g in i.histology_excludes)
    excluded = tuple(x for i in indications for x in i.icd10_excludes)
    if excluded and any(code.startswith(x) for x in excluded):
        code = _diagnosis_code(ct, excluded)
        if code is None:
            raise Skip(f"no billable ICD-10-CM code of {cancer} outside {excluded}")
    lo = max([i.age_min for i in indications if i.age_min is not None] or [18])
    hi = min([i.age_max for i in indications if i.age_max is not None] or [99])
    if lo > hi:
        raise Skip(f"no age fits every label ({lo}-{hi})")
    age = 60 if lo <= 60 <= hi else lo
    patient: dict = {"diagnosis": {"icd10": code}, "age": age, "sex": "female", "coverage": "medicare-advantage",
                     "ecog": 0, "line": line.value}
    if any(required) or hist_excl:
        name = _histology_for(kb, required, hist_excl)
        if name is None:
            raise Skip(f"no catalog histology in each of {[g for g in required if g]} outside {hist_excl}")
        patient["histology"] = name
    stages = tuple(p.stages) or next((i.stages for i in indications if i.stages), ())
    if setting is Setting.UNKNOWN:
        patient.update(stage=stages[0] if stages else "III", intent="curative")
    elif not p.settings and stages and stages[0].upper() not in ("IV", "IVB", "IVC"):
        # a pathway for any setting whose label names early stages only (definitive chemoradiation):
        # a curative-intent record at the label's first stage, no metastatic site
        patient.update(stage=stages[0], intent="curative")
    elif setting is Setting.METASTATIC or setting is Setting.MAINTENANCE:
        patient.update(stage="IV", intent="palliative")
        if ct.kind == "solid":
            patient["secondary"] = [METASTATIC_SITE]
    else:
        patient.update(stage=stages[0] if stages else "IIIC",
                       intent="adjuvant" if setting is Setting.ADJUVANT else "neoadjuvant")
    if ct.kind == "hematologic" and not p.requires_stage:
        patient.pop("stage", None)
    markers: dict[str, dict] = {}
    for c in (*p.requires, *(c for i in indications for c in i.requires)):
        _merge(markers, c, _marker_spec(c, True))
    for group in ([p.requires_any] if p.requires_any else []) + [i.requires_any for i in indications if i.requires_any]:
        if not any(c.marker in markers for c in group):
            markers[group[0].marker] = _marker_spec(group[0], True)
    for c in (*p.excludes, *(c for i in indications for c in i.excludes)):
        if c.marker not in markers:
            markers[c.marker] = _marker_spec(c, False)
    patient["biomarkers"] = list(markers.values())
    if any(i.menopause for i in indications):
        patient["menopause"] = next(i.menopause for i in indications if i.menopause)
    if any(i.cisplatin_unfit for i in indications):
        patient["egfr"] = 45          # EORTC 30986: GFR above 30 and below 60 (ECOG stays 0)
    if any(i.transplant for i in indications):
        patient["transplant"] = next(i.transplant for i in indications if i.transplant)
    attests = {a.key: True for a in (*r.attests, *(a for i in indications for a in i.attests))}
    if attests:
        patient["attest"] = attests           # the worksheet's yes to each label criterion it asks
    # a label that needs drugs given before (induction with the same antibody, prior gemcitabine):
    # the record's completed treatment holds the first drug of each group
    prior = [_example(g[0]) for i in indications for g in i.after_drugs]
    missing = [k for k in prior if k not in CATALOG["drugs"]]
    if missing:
        raise Skip(f"no catalog codes for prior drug {missing[0]}")
    if prior:
        patient["prior_therapy"] = list(dict.fromkeys(prior))
    # a label counting from a drug's last dose (platinum-resistant or -sensitive disease,
    # rituximab-refractory lymphoma): that dose and the progression documented 3 months (within)
    # or 10 months (beyond) after it
    prog = next((i.progression for i in indications if i.progression is not None), None)
    if prog is not None:
        patient.update(_dose_then_progression(_example(prog.drugs[0]), prog.within))
        patient["prior_therapy"] = [x for x in patient.get("prior_therapy", []) if x != _example(prog.drugs[0])] \
            + patient.pop("last_course")
    # maintenance after a response to the induction: the induction drugs dated, a partial remission after
    responders = [k for i in indications for k in i.response_after]
    if responders:
        last = (date.fromisoformat(START) - timedelta(days=100)).isoformat()
        names = [x for x in patient.get("prior_therapy", []) if not isinstance(x, dict)]
        dated = [x["drug"] for x in patient.get("prior_therapy", []) if isinstance(x, dict)]
        patient["prior_therapy"] = [{"drug": k, "last": last} for k in dict.fromkeys([*names, *responders])
                                    if k not in dated] + [x for x in patient.get("prior_therapy", []) if isinstance(x, dict)]
        patient["response"] = (date.fromisoformat(START) - timedelta(days=50)).isoformat()
    return patient, indications


# a drug category a label names ("prior chemotherapy") stands for one common member in a record
_CATEGORY_EXAMPLE = {"category:chemotherapy": "paclitaxel"}


def _example(key: str) -> str:
    return _CATEGORY_EXAMPLE.get(key, key)


def _dose_then_progression(drug: str, within: bool) -> dict:
    start = date.fromisoformat(START)
    last = start - timedelta(days=120 if within else 400)
    return {"last_course": [{"drug": drug, "last": last.isoformat()}],
            "progression": (last + timedelta(days=90 if within else 300)).isoformat()}


def _failing(patient: dict, c: BiomarkerCriterion) -> dict | None:
    """The same patient with criterion `c`'s marker read as failing it (None: not expressible)."""
    try:
        spec = _marker_spec(c, False)
    except Skip:
        return None
    return dict(patient, biomarkers=[spec if (b.get("marker") or b.get("of") or b.get("gene")) == c.marker else b
                                     for b in patient["biomarkers"]])


def _labels(kb: Knowledge, drug: str, cancer: str, patient: dict) -> list[Indication]:
    """The drug's indications that could cover this patient: its cancer type's own, and a
    tumour-agnostic one (pembrolizumab MSI-H, TMB-high) only when the record carries its biomarker."""
    agnostic = {c.key for c in kb.cancer_types.values() if c.agnostic}
    held = {b.get("marker") or b.get("gene") for b in patient.get("biomarkers") or []}
    return [i for i in kb.indications_for(drug, cancer)
            if not set(i.cancer_types) <= agnostic
            or {c.marker for c in i.requires} <= held and (not i.requires_any or {c.marker for c in i.requires_any} & held)]


def _negative(kb: Knowledge, p: Pathway, r: Regimen, cancer: str, patient: dict,
              indications: list[Indication], ordered: set[str]) -> tuple[dict, str] | None:
    """The same patient made off-label for a drug the order holds (a label criterion, not only a
    pathway one: off pathway but on label is authorized under medical policy): its required
    biomarker failed, else a line / setting no label of the drug covers, else another cancer type
    no label of its drugs covers."""
    managed = [k for k in sorted(ordered) if k in kb.drugs and kb.drugs[k].managed]   # sorted: the same variant every run
    for ind in indications:
        for c in ind.requires:
            if set(ind.cancer_types).isdisjoint({cancer}) and not kb.cancer_types[cancer].kind == "solid":
                continue
            drug_inds = [i for k in managed for i in _labels(kb, k, cancer, patient) if c in i.requires]
            if not drug_inds:
                continue
            off = _failing(patient, c)
            if off is None:
                continue
            # only when every indication of that drug for this cancer needs the criterion
            drug = next(k for k in managed if any(c in i.requires for i in _labels(kb, k, cancer, patient)))
            if all(c in i.requires for i in _labels(kb, drug, cancer, patient)):
                return off, f"{c.describe()} not met ({drug})"
    for k in managed:
        inds = _labels(kb, k, cancer, patient)
        if inds and all(i.after_prior for i in inds) and patient.get("line") != "1L":
            return dict(patient, line="1L"), f"first line, where every {k} indication needs prior therapy"
        if inds and all(i.settings and Setting.METASTATIC not in i.settings for i in inds):
            off = dict(patient, stage="IV", intent="palliative",
                       secondary=[METASTATIC_SITE] if kb.cancer_types[cancer].kind == "solid" else [])
            return off, f"metastatic disease, where {k} is labelled only for early-stage use"
        if inds and all(i.settings and Setting.ADJUVANT not in i.settings and Setting.NEOADJUVANT not in i.settings
                        for i in inds):
            off = {x: v for x, v in patient.items() if x != "secondary"}
            off.update(stage="IIIC", intent="adjuvant")
            return off, f"adjuvant use, where {k} is labelled only for advanced disease"
    # history criteria, flipped where every label of the drug for this patient has the criterion
    for ind in indications:
        drug = _only_labels_with(kb, cancer, patient, ind, lambda i: bool(i.after_drugs))
        if drug and patient.get("prior_therapy"):
            off = {x: v for x, v in patient.items() if x != "prior_therapy"}
            return off, f"no {'/'.join(ind.after_drugs[0])} in the record's completed treatment ({drug})"
    for ind in indications:
        p = ind.progression
        drug = p and _only_labels_with(kb, cancer, patient, ind,
                                       lambda i: i.progression is not None and i.progression.within == p.within)
        if drug and patient.get("progression"):
            history = _dose_then_progression(_example(p.drugs[0]), not p.within)
            off = dict(patient, progression=history["progression"],
                       prior_therapy=[x for x in patient["prior_therapy"] if not isinstance(x, dict)] + history["last_course"])
            when = "more than" if p.within else "within"
            return off, (f"progression {when} {p.months} months after the last {_example(p.drugs[0])}, where {drug} is labelled "
                         f"for {p.term or 'the opposite interval'}")
    for ind in indications:
        drug = _only_labels_with(kb, cancer, patient, ind, lambda i: i.cisplatin_unfit)
        if drug and patient.get("egfr") is not None:
            return dict(patient, egfr=75, ecog=0), f"fit for cisplatin (eGFR 75, ECOG 0), where {drug} is for the unfit"
    for ind in indications:
        drug = _only_labels_with(kb, cancer, patient, ind, lambda i: i.transplant == ind.transplant != "")
        if drug and patient.get("transplant"):
            other = "eligible" if patient["transplant"] == "ineligible" else "ineligible"
            return dict(patient, transplant=other), f"a patient {other} for autologous transplant ({drug} is labelled for the {patient['transplant']})"
    for ind in indications:
        for att in ind.attests:
            drug = _only_labels_with(kb, cancer, patient, ind, lambda i, att=att: att in i.attests)
            if drug and patient.get("attest", {}).get(att.key):
                return (dict(patient, attest=dict(patient["attest"], **{att.key: False})),
                        f"the worksheet answers no to '{att.short}' ({drug} is labelled for it)")
    for ind in indications:
        drug = _only_labels_with(kb, cancer, patient, ind, lambda i: bool(i.menopause))
        if drug and patient.get("menopause") == "postmenopausal":
            return dict(patient, menopause="premenopausal"), f"a premenopausal woman ({drug} is labelled for postmenopausal women)"
    for ind in indications:
        drug = _only_labels_with(kb, cancer, patient, ind, lambda i: bool(i.response_after))
        if drug and patient.get("response"):
            off = {x: v for x, v in patient.items() if x != "response"}
            off["progression"] = patient["response"]
            return off, f"progression, not a response, after the induction ({drug} is labelled for responders)"
    kind = kb.cancer_types[cancer].kind
    for other in kb.cancer_types.values():
        if other.key == cancer or other.kind != kind or other.key not in _diagnosis_codes():
            continue
        if managed and not any(_labels(kb, k, other.key, patient) for k in managed) \
                and kb.pathways_by_cancer.get(other.key):
            off = dict(patient, diagnosis={"icd10": _diagnosis_codes()[other.key]})
            off.pop("histology", None)
            return off, f"{other.name}, which no label of its drugs covers"
    return None


def _only_labels_with(kb: Knowledge, cancer: str, patient: dict, ind: Indication, has) -> str | None:
    """The drug whose indication `ind` is, when every label of that drug for this patient has the
    criterion `has` tests (failing it then leaves the drug no label: a true off-label variant)."""
    drug = next(k for k, pol in kb.policies.items() if ind in pol.indications)
    return drug if all(has(i) for i in _labels(kb, drug, cancer, patient)) else None


def is_oral(kb: Knowledge, r: Regimen) -> bool:
    """Every drug the regimen needs is pharmacy benefit (R2): nothing for the program to authorize."""
    return not any(d.drug_key in kb.drugs and kb.drugs[d.drug_key].managed for d in r.drugs if not d.optional)


def _verified_twin(kb: Knowledge, p: Pathway, r: Regimen) -> bool:
    """Another verified regimen of the same drugs applies to this cancer type (a tumour-agnostic
    group's: selpercatinib for a RET-fusion thyroid cancer): the engine may rightly match that one
    when its criteria hold, so the scenario cannot say "never on pathway"."""
    return any(x.verified and x.id != r.id for _, x in kb.regimens_with(p.cancer_type, r.therapeutic_keys))


def _expected_oral(kb: Knowledge, p: Pathway, r: Regimen) -> dict:
    """An oral regimen goes to the pharmacy benefit manager (R2, "Other Impact"): no case to pend or
    authorize, the case is Completed. It is on pathway (the program reports pathway adherence)
    only when the regimen rests on a primary source."""
    drugs = {d.drug_key: "Other Impact" for d in r.drugs if not d.optional}
    if not r.verified and _verified_twin(kb, p, r):
        return {"case_status": "Completed", "drugs": drugs}     # on pathway when the twin's criteria hold
    if r.verified:
        return {"case_status": "Completed", "on_pathway": True, "pathway": p.id, "regimen": r.id, "drugs": drugs}
    return {"case_status": "Completed", "on_pathway": False, "drugs": drugs}


def _negative_oral(kb: Knowledge, p: Pathway, r: Regimen, patient: dict) -> tuple[dict, str] | None:
    """An oral regimen made off pathway: a biomarker the pathway requires failed, else another
    cancer type of the same kind whose pathways hold no regimen of these drugs."""
    for c in p.requires:
        off = _failing(patient, c)
        if off is not None:
            return off, f"{c.describe()} not met (pathway criterion)"
    for a in r.attests:
        if patient.get("attest", {}).get(a.key):
            return dict(patient, attest=dict(patient["attest"], **{a.key: False})), \
                f"the worksheet answering no to '{a.short}' (the regimen's criterion)"
    keys = {d.drug_key for d in r.drugs}
    kind = kb.cancer_types[p.cancer_type].kind
    for other in kb.cancer_types.values():
        if other.key == p.cancer_type or other.kind != kind or other.key not in _diagnosis_codes():
            continue
        paths = kb.pathways_by_cancer.get(other.key) or ()
        if paths and not any(keys & {d.drug_key for d in x.drugs} for q in paths for x in q.regimens):
            off = dict(patient, diagnosis={"icd10": _diagnosis_codes()[other.key]}, biomarkers=[])
            off.pop("histology", None)
            return off, f"{other.name}, whose pathways hold no regimen of these drugs"
    return None


def _expected_positive(kb: Knowledge, p: Pathway, r: Regimen, indications: list[Indication]) -> dict:
    """A verified regimen whose labels were read is Authorized on its pathway; an unverified one
    is never on pathway (it pends, or its drugs are authorized under their own labels, off pathway). When the regimen is verified but the indication the
    generator chose is not, the engine may still find a verified one of the drug's: either answer."""
    if r.verified and all(i.verified for i in indications):
        return {"case_status": "Authorized", "on_pathway": True, "pathway": p.id, "regimen": r.id}
    if not r.verified and _verified_twin(kb, p, r):
        return {"case_status": ["In Progress", "Authorized"]}
    if not r.verified:
        # never on pathway while the regimen is unverified (no Pathway Eligible ID, no S-codes): it
        # pends, or its drugs are authorized one by one under verified label indications, off pathway
        return {"case_status": ["In Progress", "Authorized"], "on_pathway": False}
    return {"case_status": ["Authorized", "In Progress"]}


def _first_setting(kb: Knowledge, p: Pathway, r: Regimen) -> tuple[dict, list[Indication]]:
    """The patient in the first of the pathway's settings every drug's label covers (TH of a
    neoadjuvant-or-adjuvant pathway is given after surgery: trastuzumab's early-breast label is adjuvant)."""
    why = None
    # a pathway for any setting is tried metastatic first, then curative (UNKNOWN: a locoregional
    # label that leaves metastatic disease out, GOG 205's chemoradiation)
    for setting in p.settings or (None, Setting.UNKNOWN):
        try:
            return _patient(kb, p, r, p.cancer_type, setting)
        except Skip as e:
            why = why or e
    raise why


@lru_cache(maxsize=1)
def generated_scenarios() -> tuple[dict, ...]:
    kb = load_knowledge()
    out: list[dict] = []
    _SKIPPED.clear()
    for p in kb.pathways:
        if p.retired is not None:
            continue
        ct = kb.cancer_types[p.cancer_type]
        if ct.agnostic:
            continue        # written by hand per solid type (the agnostic scenarios)
        for r in p.regimens:
            try:
                patient, indications = _first_setting(kb, p, r)
                order = _order(r, kb, indications)
            except Skip as why:
                _SKIPPED.append((r.id, str(why)))
                continue
            ordered = frozenset(o["drug"] for o in order)
            twin = next((x for x in p.regimens[:p.regimens.index(r)] if x.therapeutic_keys == ordered), None) \
                if any(d.optional for d in r.drugs) else None
            if twin is not None:
                # without its optional drugs the order is an earlier regimen's (ECHO without
                # acalabrutinib is BR): the engine rightly answers with that one
                _SKIPPED.append((r.id, f"order without its optional drugs is regimen {twin.id}'s"))
                continue
            base = {"patient": patient, "order": order, "generated": True, "file": "generated"}
            oral = is_oral(kb, r)
            out.append({**base, "id": f"gen-{r.id}",
                        "title": f"{r.name} for {ct.name} meeting {p.name} (generated from the knowledge base)",
                        "expect": _expected_oral(kb, p, r) if oral else _expected_positive(kb, p, r, indications),
                        "source": f"generated: pathway {p.id}, regimen {r.id}"})
            neg = _negative_oral(kb, p, r, patient) if oral else \
                _negative(kb, p, r, p.cancer_type, patient, indications, {o["drug"] for o in order})
            if neg is not None and oral:
                off, why = neg
                out.append({**base, "patient": off, "id": f"gen-{r.id}-off-pathway", "negative_for": r.id,
                            "title": f"{r.name} for {ct.name}, {why}, is never on pathway (generated)",
                            "expect": {"case_status": "Completed", "on_pathway": False},
                            "source": f"generated variant of pathway {p.id}, regimen {r.id}: {why}"})
                continue
            if neg is not None:
                off, why = neg
                out.append({**base, "patient": off, "id": f"gen-{r.id}-off-label", "negative_for": r.id,
                            "off_label": True,
                            "title": f"{r.name} for {ct.name}, {why}, is never authorized (generated)",
                            "expect": {"case_status": "In Progress", "on_pathway": False},
                            "source": f"generated variant of pathway {p.id}, regimen {r.id}: {why}"})
            else:
                _SKIPPED.append((r.id, "no off-label variant expressible (no biomarker, line or setting limit)"))
    return tuple(out)
