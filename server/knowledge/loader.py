"""Load the pathway knowledge base: YAML files -> JSON-Schema validation -> integrity checks
-> immutable `Knowledge` objects with indexes.

Fail fast and say where: every problem raises `KnowledgeError` naming the file and the field
path, e.g. ``pathways/breast.yaml: pathways[2].regimens[0].drugs[1].drug: 'trastuzumabb' is
not a known drug``. The bundled knowledge base is loaded once per process (tests create many
apps); a directory passed explicitly is cached by its resolved path too, so edit-and-reload
needs `load_knowledge.cache_clear()`.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml
import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from server.domain.decision import Benefit
from server.domain.order import BiomarkerResult, LineOfTherapy, Setting
from server.knowledge.model import (
    Attestation,
    BiomarkerCriterion,
    CancerType,
    DoseRange,
    Drug,
    DrugCategory,
    DrugPolicy,
    ProgressionInterval,
    Evidence,
    FnRisk,
    HcpcsCode,
    Indication,
    Knowledge,
    Pathway,
    CycleOverride,
    Phase,
    Regimen,
    RegimenDrug,
    Restriction,
    Schedule,
    TrialArm,
    build_indexes,
)

# histology code systems as the cancer_types.yaml file names them
_HISTOLOGY_SYSTEMS = {
    "snomed": "http://snomed.info/sct",
    "icd-o-3": "http://terminology.hl7.org/CodeSystem/icd-o-3",
}

DATA_DIR = Path(__file__).resolve().parent / "data"
SCHEMA_DIR = Path(__file__).resolve().parent / "schema"

# file (relative to the data directory) -> schema file
_SINGLE_FILES = {
    "kb.yaml": "kb.schema.json",
    "drugs.yaml": "drugs.schema.json",
    "policies.yaml": "policies.schema.json",
    "cancer_types.yaml": "cancer_types.schema.json",
    "trials.yaml": "trials.schema.json",
}
_PATHWAY_SCHEMA = "pathways.schema.json"
# Sections that may also be split into a directory of files of the same schema (drugs/*.yaml,
# policies/*.yaml, cancer_types/*.yaml), so that a cancer type's content lives together and
# several people can add content without editing one file.
_SPLIT_SECTIONS = ("drugs", "policies", "cancer_types")
# The program's code tables, read by mappings/ (FHIR -> Order): part of the release, checked at
# load like the rest. A knowledge directory without its own program/ uses the bundled tables.
PROGRAM_TABLES = ("biomarkers", "clinical", "coverage", "genes", "medication", "pas", "staging", "systems")


class KnowledgeError(ValueError):
    """The knowledge base is invalid. The message names the file and the field path."""

    def __init__(self, file: str, path: str, message: str):
        self.file = file
        self.path = path
        super().__init__(f"{file}: {path}: {message}" if path else f"{file}: {message}")


def load_knowledge(directory: str | Path | None = None) -> Knowledge:
    """Load, validate and index the knowledge base in `directory` (None = the bundled one)."""
    root = Path(directory) if directory else DATA_DIR
    return _load_cached(root.resolve())


load_knowledge.cache_clear = lambda: _load_cached.cache_clear()  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _load_cached(root: Path) -> Knowledge:
    return _Loader(root).load()


# --------------------------------------------------------------------------------------------
# YAML: keep dates as strings so that the schema checks their format (and the file/field of a
# bad date is reported by the same path as every other error).


class _YamlLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    pass


_YamlLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@lru_cache(maxsize=1)
def _validators() -> dict[str, Draft202012Validator]:
    schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SCHEMA_DIR.glob("*.schema.json")}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values()
    )
    checker = FormatChecker(formats=("date",))
    return {
        name: Draft202012Validator(schema, registry=registry, format_checker=checker)
        for name, schema in schemas.items()
    }


# --------------------------------------------------------------------------------------------
# Validated-file cache: schema validation is most of a worker's start-up (about 1 s of 1.2 s for the
# 80 files), and the same bytes under the same schemas always validate the same way. A file whose
# sha256 (with the schemas' and the validator's) was validated before is read from the JSON written
# then, skipping YAML parsing and validation; any change to the file or a schema misses. JSON, not
# pickle: a cache entry is data, never code. ONCOPATH_KB_CACHE names the directory ("off" disables).


@lru_cache(maxsize=1)
def _schema_fingerprint() -> bytes:
    h = hashlib.sha256(f"oncopath-kb-cache-1 jsonschema {jsonschema.__version__}".encode())
    for p in sorted(SCHEMA_DIR.glob("*.schema.json")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.digest()


def _cache_dir() -> Path | None:
    where = os.environ.get("ONCOPATH_KB_CACHE", "")
    if where.lower() == "off":
        return None
    return Path(where) if where else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "oncopath" / "kb"


def _cache_key(raw: bytes, schema: str) -> str:
    return hashlib.sha256(_schema_fingerprint() + schema.encode() + b"\0" + raw).hexdigest()


def _cache_get(key: str) -> Any | None:
    d = _cache_dir()
    if d is None:
        return None
    try:
        return json.loads((d / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cache_put(key: str, data: Any) -> None:
    d = _cache_dir()
    if d is None:
        return
    try:
        text = json.dumps(data)
        if json.loads(text) != data:
            return                               # not JSON-exact (an integer mapping key): not cached
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, d / f"{key}.json")       # atomic: a concurrent worker reads all or nothing
    except (OSError, TypeError, ValueError):
        pass                                     # no cache (read-only home, odd value): validate each time


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


@dataclass
class _Doc:
    file: str          # relative name, used in messages: "pathways/breast.yaml"
    data: Any


class _Loader:
    def __init__(self, root: Path):
        self.root = root
        self._attestations: dict[str, Attestation] = {}

    # ---------------------------------------------------------------- reading and schema
    def _read(self, rel: str, schema: str) -> _Doc:
        path = self.root / rel
        if not path.is_file():
            raise KnowledgeError(rel, "", "file is missing")
        raw = path.read_bytes()
        key = _cache_key(raw, schema)
        cached = _cache_get(key)
        if cached is not None:
            return _Doc(rel, cached)
        try:
            data = yaml.load(raw.decode("utf-8"), Loader=_YamlLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise KnowledgeError(rel, "", f"not valid YAML: {exc}") from None
        validator = _validators()[schema]
        errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
        if errors:
            err = _most_specific(errors[0])
            raise KnowledgeError(rel, _path(err.absolute_path), _describe(err))
        _cache_put(key, data)
        return _Doc(rel, data)

    def program_tables(self) -> dict[str, dict]:
        own = (self.root / "program").is_dir()
        loader = self if own or self.root == DATA_DIR.resolve() else _Loader(DATA_DIR.resolve())
        return {name: loader._read(f"program/{name}.yaml", f"program-{name}.schema.json").data
                for name in PROGRAM_TABLES}

    def load(self) -> Knowledge:
        docs = {rel: self._read(rel, schema) for rel, schema in _SINGLE_FILES.items()}
        pathway_files = sorted((self.root / "pathways").glob("*.yaml")) if (self.root / "pathways").is_dir() else []
        if not pathway_files:
            raise KnowledgeError("pathways/", "", "no pathway files")
        pathway_docs = [self._read(f"pathways/{p.name}", _PATHWAY_SCHEMA) for p in pathway_files]

        split = {name: [docs[f"{name}.yaml"], *self._directory(name)] for name in _SPLIT_SECTIONS}

        kb = docs["kb.yaml"].data
        cancer_types = self._cancer_types(split["cancer_types"])
        histology_groups = self._histology_groups(split["cancer_types"], cancer_types)
        drugs = self._drugs(split["drugs"])
        policies = self._policies(split["policies"], drugs, cancer_types, histology_groups)
        pathways = self._pathways(pathway_docs, drugs, cancer_types, histology_groups)
        trials = self._trials(docs["trials.yaml"], drugs, cancer_types)
        self._check_codes_unique(split["drugs"])

        effective, reviewed = date.fromisoformat(kb["effective"]), date.fromisoformat(kb["reviewed"])
        if reviewed < effective:
            raise KnowledgeError("kb.yaml", "reviewed", f"{reviewed} is before effective {effective}")
        factors = [f["key"] for f in kb["fn_risk_factors"]]
        _unique("kb.yaml", "fn_risk_factors", factors, "key")

        knowledge = Knowledge(
            version=kb["version"],
            effective=effective,
            reviewed=reviewed,
            drugs=drugs,
            policies=policies,
            cancer_types=cancer_types,
            pathways=pathways,
            trials=trials,
            fn_risk_factors=frozenset(factors),
            code_tags={d["key"]: {(kind, c["code"]): c.get("tag", "M") for kind in ("rxnorm", "hcpcs")
                                  for c in d.get(kind, ())}
                       for doc in split["drugs"] for d in doc.data.get("drugs", [])},
            histology_tags={(_HISTOLOGY_SYSTEMS[hc["system"]], hc["code"]): hc.get("tag", "M")
                            for doc in split["cancer_types"] for g in doc.data.get("histology_groups", [])
                            for hc in g["codes"]},
            snomed_tags={sc["code"]: sc.get("tag", "M") for doc in split["cancer_types"]
                         for c in doc.data.get("cancer_types", []) for sc in c.get("snomed", ())},
            snomed_broader=frozenset(sc["code"] for doc in split["cancer_types"]
                                     for c in doc.data.get("cancer_types", []) for sc in c.get("snomed", ())
                                     if sc.get("broader")),
            program=self.program_tables(),
            fn_risk_derived={f["key"]: dict(f["derived_from"]) for f in kb["fn_risk_factors"] if f.get("derived_from")},
            histology_groups=histology_groups,
        )
        return build_indexes(knowledge)

    def _directory(self, name: str) -> list[_Doc]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return [self._read(f"{name}/{p.name}", f"{name}.schema.json") for p in sorted(folder.glob("*.yaml"))]

    # ---------------------------------------------------------------- sections
    def _cancer_types(self, docs: list[_Doc]) -> dict[str, CancerType]:
        out: dict[str, CancerType] = {}
        for doc in docs:
            out.update(self._cancer_type_items(_new_keys(doc, "cancer_types", out)))
        return out

    @staticmethod
    def _cancer_type_items(items: list) -> dict[str, CancerType]:
        return {
            c["key"]: CancerType(
                key=c["key"],
                name=c["name"],
                icd10_prefixes=tuple(c["icd10_prefixes"]),
                snomed=tuple(s["code"] for s in c.get("snomed", ())),
                histology_snomed=tuple(s["code"] for s in c.get("histology_snomed", ())),
                icd10_excludes=tuple(c.get("icd10_excludes", ())),
                histology_excludes=tuple(c.get("histology_excludes", ())),
                histology=tuple(c.get("histology", ())),
                kind=c.get("kind", "solid"),
            )
            for c in items
        }

    def _histology_groups(self, docs: list[_Doc], cancer_types: dict[str, CancerType]) -> dict[str, frozenset]:
        out: dict[str, frozenset] = {}
        for doc in docs:
            for g in _new_keys(doc, "histology_groups", out):
                out[g["key"]] = frozenset((_HISTOLOGY_SYSTEMS[c["system"]], c["code"]) for c in g["codes"])
        for doc in docs:
            for i, c in enumerate(doc.data.get("cancer_types", [])):
                for field in ("histology", "histology_excludes"):
                    for j, key in enumerate(c.get(field, ())):
                        _known_histology(doc.file, f"cancer_types[{i}].{field}[{j}]", key, out)
        return out

    def _drugs(self, docs: list[_Doc]) -> dict[str, Drug]:
        out: dict[str, Drug] = {}
        for doc in docs:
            self._drug_items(doc, out)
        for doc in docs:
            for i, d in enumerate(doc.data.get("drugs", [])):
                if d.get("formulation_of"):
                    _known_drug(doc.file, f"drugs[{i}].formulation_of", d["formulation_of"], out)
        return out

    def _drug_items(self, doc: _Doc, out: dict[str, Drug]) -> None:
        for i, d in enumerate(_new_keys(doc, "drugs", out)):
            where = f"drugs[{i}]"
            benefit = Benefit(d["benefit"])
            if benefit is Benefit.MEDICAL and not d.get("hcpcs"):
                raise KnowledgeError(doc.file, f"{where}.hcpcs", f"managed drug '{d['key']}' needs at least one HCPCS code with a billing unit")
            for j, r in enumerate(d.get("dose_range", ())):
                if r["min"] > r["max"]:
                    raise KnowledgeError(doc.file, f"{where}.dose_range[{j}]", f"min {r['min']} > max {r['max']}")
            out[d["key"]] = Drug(
                key=d["key"],
                name=d["name"],
                category=DrugCategory(d["category"]),
                benefit=benefit,
                rxnorm=tuple(r["code"] for r in d.get("rxnorm", ())),
                hcpcs=tuple(HcpcsCode(h["code"], float(h["unit_amount"]), h["unit"], h["description"],
                                      h.get("retired", ""), h.get("product", "")) for h in d.get("hcpcs", ())),
                ndc_prefixes=tuple(d.get("ndc_prefixes", ())),
                growth_factor=bool(d.get("growth_factor", False)),
                dose_range=tuple(DoseRange(r["unit"], float(r["min"]), float(r["max"])) for r in d.get("dose_range", ())),
                contact=d.get("contact"),
                source=d["source"],
                synonyms=tuple(d.get("synonyms", ())),
                formulation_of=d.get("formulation_of"),
            )

    def _check_codes_unique(self, docs: list[_Doc]) -> None:
        """One code, one drug: the crosswalk must resolve every RxNorm / HCPCS code unambiguously."""
        seen: dict[tuple[str, str], str] = {}
        for doc in docs:
            for i, d in enumerate(doc.data.get("drugs", [])):
                for kind in ("rxnorm", "hcpcs"):
                    for j, c in enumerate(d.get(kind, ())):
                        k = (kind, c["code"])
                        if k in seen:
                            raise KnowledgeError(doc.file, f"drugs[{i}].{kind}[{j}].code",
                                                 f"{kind} code {c['code']!r} already belongs to '{seen[k]}'")
                        seen[k] = d["key"]

    def _policies(self, docs: list[_Doc], drugs: dict[str, Drug], cancer_types: dict[str, CancerType],
                  histology: dict[str, frozenset]) -> dict[str, DrugPolicy]:
        """A drug's policy may be written in several files (one per cancer type): its indications
        are the union, each indication id unique across the knowledge base."""
        out: dict[str, DrugPolicy] = {}
        ids: dict[str, str] = {}
        for doc in docs:
            for drug, policy in self._policy_items(doc, drugs, cancer_types, histology).items():
                for j, ind in enumerate(policy.indications):
                    if ind.id in ids:
                        raise KnowledgeError(doc.file, f"policies[drug={drug}].indications[{j}].id",
                                             f"duplicate indication id {ind.id!r} (also in {ids[ind.id]})")
                    ids[ind.id] = doc.file
                if drug in out:
                    prev = out[drug]
                    policy = DrugPolicy(drug_key=drug, indications=prev.indications + policy.indications,
                                        source=f"{prev.source}; {policy.source}")
                out[drug] = policy
        missing = sorted(k for k, d in drugs.items() if d.managed and k not in out)
        if missing:
            raise KnowledgeError(docs[0].file, "policies", f"managed drug(s) without a policy: {', '.join(missing)}")
        return out

    def _attestation(self, file: str, where: str, spec: dict) -> Attestation:
        """One key, one question: the worksheet asks it once for every label that needs it."""
        att = Attestation(spec["key"], spec["question"], spec["short"])
        seen = self._attestations.setdefault(att.key, att)
        if seen != att:
            raise KnowledgeError(file, where, f"attestation '{att.key}' is worded differently elsewhere; "
                                              "one key asks one question")
        return att

    def _policy_items(self, doc: _Doc, drugs: dict[str, Drug], cancer_types: dict[str, CancerType],
                      histology: dict[str, frozenset]) -> dict[str, DrugPolicy]:
        items = doc.data.get("policies", [])
        _unique(doc.file, "policies", [p["drug"] for p in items], "drug")
        out: dict[str, DrugPolicy] = {}
        for i, p in enumerate(items):
            where = f"policies[{i}]"
            _known_drug(doc.file, f"{where}.drug", p["drug"], drugs)
            if not drugs[p["drug"]].managed:
                raise KnowledgeError(doc.file, f"{where}.drug", f"'{p['drug']}' is a pharmacy-benefit drug: the program has no medical policy for it")
            indications = []
            for j, ind in enumerate(p["indications"]):
                iwhere = f"{where}.indications[{j}]"
                for k, ct in enumerate(ind["cancer_types"]):
                    _known_cancer(doc.file, f"{iwhere}.cancer_types[{k}]", ct, cancer_types)
                for field in ("histology", "histology_excludes"):
                    for k, key in enumerate(ind.get(field, ())):
                        _known_histology(doc.file, f"{iwhere}.{field}[{k}]", key, histology)
                for g, group in enumerate(ind.get("partners", ())):
                    for k, key in enumerate(group):
                        if not key.startswith("category:"):
                            _known_drug(doc.file, f"{iwhere}.partners[{g}][{k}]", key, drugs)
                for field in ("not_after_drugs",):
                    for k, key in enumerate(ind.get(field, ())):
                        _known_drug(doc.file, f"{iwhere}.{field}[{k}]", key, drugs)
                for g, group in enumerate(ind.get("after_drugs", ())):
                    for k, key in enumerate(group):
                        if not key.startswith("category:"):
                            _known_drug(doc.file, f"{iwhere}.after_drugs[{g}][{k}]", key, drugs)
                for k, key in enumerate(ind.get("response_after", ())):
                    _known_drug(doc.file, f"{iwhere}.response_after[{k}]", key, drugs)
                prog = ind.get("progression")
                for k, key in enumerate((prog or {}).get("after_last", ())):
                    if not key.startswith("category:"):
                        _known_drug(doc.file, f"{iwhere}.progression.after_last[{k}]", key, drugs)
                if ind.get("max_prior") is not None and ind["max_prior"] < int(ind.get("after_prior", 0)):
                    raise KnowledgeError(doc.file, f"{iwhere}.max_prior", "max_prior is below after_prior")
                if ind.get("monotherapy") and ind.get("partners"):
                    raise KnowledgeError(doc.file, f"{iwhere}.monotherapy", "an indication cannot be monotherapy and name partner drugs")
                indications.append(Indication(
                    cancer_types=tuple(ind["cancer_types"]),
                    requires=_criteria(ind.get("requires")),
                    requires_any=_criteria(ind.get("requires_any")),
                    excludes=_criteria(ind.get("excludes")),
                    settings=tuple(Setting(s) for s in ind.get("settings", ())),
                    id=ind.get("id") or f"{p['drug']}-{j + 1}",
                    histology=tuple(ind.get("histology", ())),
                    histology_excludes=tuple(ind.get("histology_excludes", ())),
                    icd10_excludes=tuple(ind.get("icd10_excludes", ())),
                    stages=tuple(ind.get("stages", ())),
                    lines=tuple(LineOfTherapy(x) for x in ind.get("lines", ())),
                    after_prior=int(ind.get("after_prior", 0)),
                    max_prior=ind.get("max_prior"),
                    partners=tuple(tuple(g) for g in ind.get("partners", ())),
                    monotherapy=bool(ind.get("monotherapy", False)),
                    restrictions=tuple(Restriction(r) for r in ind.get("restrictions", ())),
                    age_min=(ind.get("age") or {}).get("min", _adult_label_age(ind)),
                    age_max=(ind.get("age") or {}).get("max"),
                    age_otherwise=(ind.get("age") or {}).get("otherwise", ""),
                    ecog_max=ind.get("ecog_max"),
                    menopause=ind.get("menopause", ""),
                    excludes_settings=tuple(Setting(x) for x in ind.get("excludes_settings", ())),
                    transplant=ind.get("transplant", ""),
                    cisplatin_unfit=bool(ind.get("cisplatin_unfit", False)),
                    attests=tuple(self._attestation(doc.file, f"{iwhere}.attests[{k}]", a)
                                  for k, a in enumerate(ind.get("attests", ()))),
                    after_drugs=tuple(tuple(g) for g in ind.get("after_drugs", ())),
                    not_after_drugs=tuple(ind.get("not_after_drugs", ())),
                    progression=ProgressionInterval(
                        tuple(prog["after_last"]), int(prog.get("within_months") or prog["beyond_months"]),
                        "within_months" in prog, prog.get("term", "")) if prog else None,
                    response_after=tuple(ind.get("response_after", ())),
                    no_criteria=ind.get("no_criteria", ""),
                    evidence=_evidence(ind["source"]),
                ))
            out[p["drug"]] = DrugPolicy(drug_key=p["drug"], indications=tuple(indications), source=p["source"])
        return out

    def _pathways(self, docs: list[_Doc], drugs: dict[str, Drug], cancer_types: dict[str, CancerType],
                  histology: dict[str, frozenset] | None = None) -> tuple[Pathway, ...]:
        pathways: list[Pathway] = []
        pathway_ids: dict[str, str] = {}
        regimen_ids: dict[str, str] = {}
        for doc in docs:
            ct = doc.data["cancer_type"]
            _known_cancer(doc.file, "cancer_type", ct, cancer_types)
            for i, p in enumerate(doc.data["pathways"]):
                where = f"pathways[{i}]"
                if p["id"] in pathway_ids:
                    raise KnowledgeError(doc.file, f"{where}.id", f"duplicate pathway id {p['id']!r} (also in {pathway_ids[p['id']]})")
                pathway_ids[p["id"]] = doc.file
                effective = date.fromisoformat(p["effective"])
                retired = date.fromisoformat(p["retired"]) if p.get("retired") else None
                if retired is not None and retired <= effective:
                    raise KnowledgeError(doc.file, f"{where}.retired", f"{retired} is not after effective {effective}")
                regimens = []
                for j, r in enumerate(p["regimens"]):
                    rwhere = f"{where}.regimens[{j}]"
                    if r["id"] in regimen_ids:
                        raise KnowledgeError(doc.file, f"{rwhere}.id", f"duplicate regimen id {r['id']!r} (also in {regimen_ids[r['id']]})")
                    regimen_ids[r["id"]] = doc.file
                    regimens.append(self._regimen(doc.file, rwhere, r, drugs))
                pathways.append(Pathway(
                    id=p["id"],
                    name=p["name"],
                    cancer_type=ct,
                    settings=tuple(Setting(s) for s in p["settings"]),
                    lines=tuple(LineOfTherapy(x) for x in p["lines"]),
                    requires=_criteria(p.get("requires")),
                    excludes=_criteria(p.get("excludes")),
                    regimens=tuple(regimens),
                    effective=effective,
                    retired=retired,
                    ecog_max=p.get("ecog_max"),
                    requires_stage=p.get("requires_stage", True),
                    stages=tuple(p.get("stages", ())),
                    source=p["source"],
                    requires_any=_criteria(p.get("requires_any")),
                    histology=tuple(p.get("histology", ())),
                    histology_excludes=tuple(p.get("histology_excludes", ())),
                ))
                for field in ("histology", "histology_excludes"):
                    for k, key in enumerate(p.get(field, ())):
                        _known_histology(doc.file, f"{where}.{field}[{k}]", key, histology or {})
        return tuple(pathways)

    def _regimen(self, file: str, where: str, r: dict, drugs: dict[str, Drug]) -> Regimen:
        """A regimen is phases in sequence; the flat form (`drugs` beside the regimen's cycle
        length and planned cycles) is the one-phase shorthand."""
        if "phases" in r:
            phases = []
            for i, ph in enumerate(r["phases"]):
                pwhere = f"{where}.phases[{i}]"
                if ph.get("until_progression") and i != len(r["phases"]) - 1:
                    raise KnowledgeError(file, f"{pwhere}.until_progression", "only the last phase can last until progression")
                phases.append(Phase(
                    name=ph["name"], cycle_length_days=ph["cycle_length_days"],
                    cycles=None if ph.get("until_progression") else ph["cycles"],
                    drugs=self._regimen_drugs(file, f"{pwhere}.drugs", ph["drugs"], drugs, ph["cycle_length_days"]),
                    fn_risk=FnRisk(ph["fn_risk"]) if "fn_risk" in ph else None))
        else:
            rdrugs = self._regimen_drugs(file, f"{where}.drugs", r["drugs"], drugs, r.get("cycle_length_days"))
            length = r.get("cycle_length_days") or next(d.cycle_length_days for d in rdrugs)
            phases = [Phase(name="regimen", cycle_length_days=length,
                            cycles=r.get("planned_cycles") if r["fixed_duration"] else None, drugs=rdrugs)]
        union: dict[str, RegimenDrug] = {}
        for ph in phases:
            for d in ph.drugs:
                union.setdefault(d.drug_key, d)
        if "phases" in r:
            # the regimen-level entry of a drug sums up its course over the phases (displays,
            # suggested orders); the calendar itself is read from the phases
            union = {k: _course_summary(k, d, phases) for k, d in union.items()}
        alts = [a for d in union.values() for a in d.alternatives]
        for d in union.values():
            if d.drug_key in alts:
                raise KnowledgeError(file, f"{where}", f"'{d.drug_key}' appears twice in the regimen")
        if all(d.optional for d in union.values()):
            raise KnowledgeError(file, f"{where}.drugs", "a regimen needs at least one drug that is not optional")
        for s, key in enumerate(r.get("supportive", ())):
            _known_drug(file, f"{where}.supportive[{s}]", key, drugs)
        src = r["source"]
        source = f"{src['trial']}; {src['label']} [{src['tag']}{'' if src['tag'] != 'M' else ': unverified'}]"
        if src.get("note"):
            source += f" - {src['note']}"
        return Regimen(
            id=r["id"],
            name=r["name"],
            drugs=tuple(union.values()),
            fn_risk=FnRisk(r["fn_risk"]),
            fixed_duration=r["fixed_duration"],
            planned_cycles=r.get("planned_cycles"),
            cycle_length_days=r.get("cycle_length_days") or phases[0].cycle_length_days,
            supportive=tuple(r.get("supportive", ())),
            source=source,
            phases=tuple(phases),
            evidence=Evidence(source=src.get("citation") or f"{src['trial']}; {src['label']}",
                              url=src.get("url", ""), tag=src["tag"]),
            fn_risk_source=src.get("fn_risk_source", ""),
            attests=tuple(self._attestation(file, f"{where}.attests[{k}]", a) for k, a in enumerate(r.get("attests", ()))),
        )

    def _regimen_drugs(self, file: str, where: str, entries: list, drugs: dict[str, Drug],
                       default_length: int | None) -> tuple[RegimenDrug, ...]:
        seen: set[str] = set()
        rdrugs = []
        for k, d in enumerate(entries):
            dwhere = f"{where}[{k}]"
            _known_drug(file, f"{dwhere}.drug", d["drug"], drugs)
            if drugs[d["drug"]].category is DrugCategory.SUPPORTIVE and not d.get("optional"):
                raise KnowledgeError(file, f"{dwhere}.drug", f"'{d['drug']}' is a supportive drug: list it under supportive, or mark it optional")
            for a, alt in enumerate(d.get("alternatives", ())):
                _known_drug(file, f"{dwhere}.alternatives[{a}]", alt, drugs)
            for key in (d["drug"], *d.get("alternatives", ())):
                if key in seen:
                    raise KnowledgeError(file, f"{dwhere}.drug", f"'{key}' appears twice in the regimen")
                seen.add(key)
            length = d.get("cycle_length_days") or default_length
            if length is None:
                raise KnowledgeError(file, f"{dwhere}.cycle_length_days", "a cycle length is needed")
            primary = self._schedule(file, dwhere, d, d, drugs, length, d.get("label") or _label(d, length))
            schedules = [primary] + [
                self._schedule(file, f"{dwhere}.schedules[{j}]", {**{x: d[x] for x in ("dose", "dose_unit") if x in d}, **alt},
                               d, drugs, alt.get("cycle_length_days", length), alt["label"])
                for j, alt in enumerate(d.get("schedules", ()))]
            rdrugs.append(RegimenDrug(
                drug_key=d["drug"],
                cycle_length_days=length,
                administration_days=primary.administration_days,
                cycles=d.get("cycles"),
                until_progression=bool(d.get("until_progression", False)),
                frequency_per_day=d.get("frequency_per_day", 1),
                dose=primary.dose,
                dose_unit=primary.dose_unit,
                optional=bool(d.get("optional", False)),
                alternatives=tuple(d.get("alternatives", ())),
                schedules=tuple(schedules),
                dose_tolerance_pct=float(d.get("dose_tolerance_pct", 10)),
            ))
        return tuple(rdrugs)

    def _schedule(self, file: str, where: str, spec: dict, entry: dict, drugs: dict[str, Drug],
                  length: int, label: str) -> Schedule:
        if "dose" in spec:
            ranges = [r for r in drugs[entry["drug"]].dose_range if r.unit == spec["dose_unit"]]
            doses = [spec["dose"]] + [o["dose"] for o in spec.get("overrides", ()) if "dose" in o]
            for dose in doses:
                if ranges and not any(r.min <= dose <= r.max for r in ranges):
                    # the on-pathway dose must not itself trigger the engine's dose warning (R5)
                    raise KnowledgeError(file, f"{where}.dose", f"{dose:g} {spec['dose_unit']} is outside the dose range of '{entry['drug']}'")
        days = _days(file, f"{where}.days", spec.get("days", entry["days"]))
        if days[-1] > length:
            raise KnowledgeError(file, f"{where}.days", f"day {days[-1]} is beyond the {length}-day cycle")
        overrides = []
        for o, ov in enumerate(spec.get("overrides", ())):
            odays = _days(file, f"{where}.overrides[{o}].days", ov["days"]) if "days" in ov else None
            if odays and odays[-1] > length:
                raise KnowledgeError(file, f"{where}.overrides[{o}].days", f"day {odays[-1]} is beyond the {length}-day cycle")
            overrides.append(CycleOverride(cycles=tuple(ov["cycles"]), dose=float(ov["dose"]) if "dose" in ov else None,
                                           days=odays))
        return Schedule(
            label=label, cycle_length_days=length, administration_days=days,
            cycles=spec.get("cycles", entry.get("cycles") if spec is entry else None),
            frequency_per_day=spec.get("frequency_per_day", entry.get("frequency_per_day", 1)),
            dose=float(spec["dose"]) if "dose" in spec else None, dose_unit=spec.get("dose_unit"),
            overrides=tuple(overrides))

    def _trials(self, doc: _Doc, drugs: dict[str, Drug], cancer_types: dict[str, CancerType]) -> tuple[TrialArm, ...]:
        out = []
        for i, t in enumerate(doc.data["trials"]):
            _known_drug(doc.file, f"trials[{i}].drug", t["drug"], drugs)
            for k, ct in enumerate(t.get("cancer_types", ())):
                _known_cancer(doc.file, f"trials[{i}].cancer_types[{k}]", ct, cancer_types)
            out.append(TrialArm(
                nct_id=t["nct_id"],
                arm=t["arm"],
                biomarker=_criterion(t["biomarker"]),
                drug=t["drug"],
                cancer_types=tuple(t.get("cancer_types", ())),
                source=f"{t['source']} [{t['tag']}]",
            ))
        return tuple(out)


# --------------------------------------------------------------------------------------------
# helpers


def _criterion(c: dict) -> BiomarkerCriterion:
    if "ihc_scores" in c:
        # an IHC score range (HER2-low: [1, 2] = IHC 1+ or 2+): judged on the IHC reading's score,
        # whatever result word it carries (2+ is "equivocal" until ISH settles it)
        lo, hi = c["ihc_scores"]
        return BiomarkerCriterion(marker=c["marker"], results=tuple(BiomarkerResult(r) for r in c.get(
            "results", ("negative", "equivocal"))), min_value=float(lo), max_value=float(hi), assay="IHC",
            ihc_score=True)
    return BiomarkerCriterion(
        marker=c["marker"],
        results=tuple(BiomarkerResult(r) for r in c.get("results", ("positive",))),
        min_value=c.get("min_value"),
        max_value=c.get("max_value"),
        variants=tuple(c.get("variants", ())),
        assay=c.get("assay"),
        prefer_tissue=bool(c.get("prefer_tissue", False)),
    )


def _evidence(src: dict) -> Evidence:
    return Evidence(source=src["source"], section=src.get("section", ""), revised=src.get("revised", ""),
                    url=src.get("url", ""), tag=src["tag"], quote=src.get("quote", ""))


def _known_histology(file: str, where: str, key: str, groups: dict) -> None:
    if key not in groups:
        raise KnowledgeError(file, where, f"{key!r} is not a known histology group (cancer_types.yaml histology_groups)")


_ADULT = re.compile(r"\badults?\b", re.I)
_CHILDREN = re.compile(r"pediatric|paediatric|child|adolescent|years (?:of age )?(?:and|or) older", re.I)


def _adult_label_age(ind: dict) -> int | None:
    """An FDA label indication for "adult patients" (and no pediatric population) is one for
    18 years or older: the age criterion the quoted label text states, unless the entry gives its
    own `age`. A child's request then pends for a clinician instead of being authorized."""
    src = ind.get("source")
    quote = src.get("quote", "") if isinstance(src, dict) else ""
    return 18 if quote and _ADULT.search(quote) and not _CHILDREN.search(quote) else None


def _criteria(items: list | None) -> tuple[BiomarkerCriterion, ...]:
    return tuple(_criterion(c) for c in items or ())


def _days(file: str, where: str, spec: list[int] | str) -> tuple[int, ...]:
    if isinstance(spec, list):
        return tuple(sorted(spec))
    days: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if a < 1 or b < a:
            raise KnowledgeError(file, where, f"bad day range {part!r}")
        days.update(range(a, b + 1))
    return tuple(sorted(days))


def _course_summary(key: str, first: RegimenDrug, phases: list[Phase]) -> RegimenDrug:
    total, open_ended = 0, False
    for ph in phases:
        rd = next((d for d in ph.drugs if d.drug_key == key), None)
        if rd is None:
            continue
        s = rd.schedules[0]
        if s.cycles:
            total += s.cycles
        elif ph.cycles:
            total += -(-ph.cycle_length_days * ph.cycles // s.cycle_length_days)
        else:
            open_ended = True
    return replace(first, cycles=None if open_ended else total, until_progression=open_ended)


def _label(d: dict, length: int) -> str:
    """A schedule's words when the data names none: "75 mg/m2 every 21 days"."""
    dose = "" if "dose" not in d else (f"AUC {d['dose']:g} " if d["dose_unit"] == "AUC" else f"{d['dose']:g} {d['dose_unit']} ")
    days = d["days"] if isinstance(d["days"], str) else ", ".join(str(x) for x in d["days"])
    rhythm = f"every {length} days" if days == "1" else f"days {days} of every {length} days"
    return f"{dose}{rhythm}"


def _known_drug(file: str, where: str, key: str, drugs: dict[str, Drug]) -> None:
    if key not in drugs:
        raise KnowledgeError(file, where, f"{key!r} is not a known drug")


def _known_cancer(file: str, where: str, key: str, cancer_types: dict[str, CancerType]) -> None:
    if key not in cancer_types:
        raise KnowledgeError(file, where, f"{key!r} is not a known cancer type")


def _new_keys(doc: _Doc, section: str, seen: dict) -> list[dict]:
    """A section's entries, each key unique in the file and not defined by an earlier file."""
    items = doc.data.get(section, [])
    _unique(doc.file, section, [x["key"] for x in items], "key")
    for i, x in enumerate(items):
        if x["key"] in seen:
            raise KnowledgeError(doc.file, f"{section}[{i}].key", f"duplicate key {x['key']!r} (defined in another file)")
    return items


def _unique(file: str, where: str, values: list[str], field: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise KnowledgeError(file, f"{where}[{i}].{field}", f"duplicate {field} {v!r}")
        seen.add(v)


def _most_specific(err):
    """oneOf/anyOf errors wrap the real cause; report the deepest one."""
    while err.context:
        deepest = max(err.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) <= len(err.absolute_path):
            break
        err = deepest
    return err


def _describe(err) -> str:
    return err.message if len(err.message) <= 300 else err.message[:297] + "..."
