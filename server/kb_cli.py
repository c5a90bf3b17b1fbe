"""`oncopath kb stats [--json]` and `oncopath kb check`: the knowledge base's figures, and every
fact a pathway committee still has to verify (or regimen still without its two scenarios)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from server.knowledge import audit
from server.knowledge.loader import KnowledgeError, load_knowledge

# the scenario corpus of a checkout (kb check reads it to see each regimen's two scenarios)
DEFAULT_SCENARIOS = Path(__file__).resolve().parents[1] / "tests" / "scenarios"


def add_parser(sub) -> None:
    kb = sub.add_parser("kb", help="knowledge-base figures and verification check")
    ksub = kb.add_subparsers(dest="kb_command", required=True)
    st = ksub.add_parser("stats", help="version, cancer types, pathways, regimens, drugs, indications, tags")
    st.add_argument("--json", action="store_true")
    st.add_argument("--knowledge-dir", default=None)
    ck = ksub.add_parser("check", help="list every unverified fact and every regimen without both scenarios")
    ck.add_argument("--knowledge-dir", default=None)
    ck.add_argument("--scenarios", default=str(DEFAULT_SCENARIOS), help="scenario corpus directory")
    ck.add_argument("--cancer-type", default=None, help="only this cancer type's regimens and its drugs' facts")
    sn = ksub.add_parser("snapshot", help="write the release catalogue data/releases/<version>.json (R18): "
                                          "decisions name the version they used, and its snapshot explains them")
    sn.add_argument("--knowledge-dir", default=None)


def _generated(scenarios: Path) -> list[dict]:
    """The scenarios a checkout generates from the knowledge base (tests/scenarios/generate.py)."""
    if not (scenarios / "generate.py").is_file():
        return []
    sys.path.insert(0, str(scenarios.parent))
    try:
        from scenarios.generate import generated_scenarios
        return list(generated_scenarios())
    finally:
        sys.path.remove(str(scenarios.parent))


def run(args) -> int:
    try:
        kb = load_knowledge(args.knowledge_dir)
    except KnowledgeError as exc:          # a broken file: name file and field, no traceback
        print(f"knowledge base not loaded: {exc}", file=sys.stderr)
        return 2
    if args.kb_command == "stats":
        figures = audit.stats(kb)
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            for k, v in figures.items():
                print(f"{k:36} {v}")
        return 0
    if args.kb_command == "snapshot":
        from server.knowledge.releases import write_snapshot
        print(write_snapshot(kb, args.knowledge_dir))
        return 0
    found = audit.problems(kb, Path(args.scenarios), _generated(Path(args.scenarios)))
    if args.cancer_type:
        keys = {args.cancer_type} | {d.drug_key for p in kb.pathways if p.cancer_type == args.cancer_type
                                     for r in p.regimens for d in r.drugs}
        ids = {r.id for p in kb.pathways if p.cancer_type == args.cancer_type for r in p.regimens}
        found = [f for f in found if any(f"({k})" in f for k in keys) or any(f"regimen {i}:" in f for i in ids)]
    try:
        for line in found:
            print(line)
        print(f"{len(found)} problem(s)")
    except BrokenPipeError:        # `oncopath kb check | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")
    return 1 if found else 0
