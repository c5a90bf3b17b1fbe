"""The structure rules of DESIGN.md, checked on the code itself (its imports and what it reads):
no import circles; the domain, the engine, the mappings and the cards import no web framework,
no database layer and no HTTP code; nothing outside `mappings/` reads FHIR JSON."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "mappings", "cards")
PURE = ("server/domain", "server/engine", "mappings", "cards")
FORBIDDEN_IN_PURE = ("flask", "werkzeug", "sqlalchemy", "psycopg", "server.http", "server.store", "server.cases",
                     "server.hooks", "server.review", "server.fhir_ops", "requests")
# Element names of FHIR resources and Bundles: reading one of these keys out of JSON is reading
# FHIR, which only mappings/ does (building JSON with them is writing, and allowed anywhere).
FHIR_KEYS = frozenset({
    "resourceType", "entry", "fullUrl", "coding", "reference", "identifier", "extension",
    "valueCodeableConcept", "valueReference", "valueString", "valueCode", "valueBoolean", "link", "relation",
    "dosageInstruction", "medicationCodeableConcept", "subscriberId", "beneficiary", "insurer", "careTeam",
    "supportingInfo", "channel", "criteria", "payload", "item",
})


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


@lru_cache(maxsize=None)
def _imports() -> dict[str, set[str]]:
    """Every project module each module imports, at any depth of its code (a function-level
    import is a dependency too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    found.add(target)
        graph[name] = found
    return graph


def _external_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _fhir_reads(path: Path) -> list[str]:
    """`x["resourceType"]` / `x.get("entry")`-style reads of FHIR element names."""
    hits = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant)):
            key = node.args[0].value
        if key in FHIR_KEYS:
            hits.append(f"{path.relative_to(REPO)}:{node.lineno} reads {key!r}")
    return hits


def test_no_module_imports_itself_back_through_another():
    assert _cycles(_imports()) == []


def test_the_cycle_finder_finds_a_circle_of_two_modules():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_domain_engine_mappings_and_cards_import_no_framework_database_or_http_code():
    offenders = []
    for name, path in _modules().items():
        rel = str(path.relative_to(REPO))
        if not rel.startswith(PURE):
            continue
        for imported in _external_imports(path):
            if any(imported == f or imported.startswith(f + ".") for f in FORBIDDEN_IN_PURE):
                offenders.append(f"{rel} imports {imported}")
    assert offenders == []


def test_the_domain_imports_only_the_standard_library_and_itself():
    offenders = []
    for path in (REPO / "server" / "domain").rglob("*.py"):
        for imported in _external_imports(path):
            top = imported.split(".")[0]
            if top in ("server",) and not imported.startswith("server.domain"):
                offenders.append(f"{path.name} imports {imported}")
            elif top in ("mappings", "cards", "flask", "sqlalchemy", "yaml", "pydantic", "fhir"):
                offenders.append(f"{path.name} imports {imported}")
    assert offenders == []


# CDS Hooks JSON (not FHIR) shares one element name with FHIR: a hook request's and a card's own
# `extension` member (CDS Hooks 2.0 §Extensions). These reads are of that JSON.
CDS_HOOKS_JSON_READS = frozenset({("server/hooks/request.py", "extension"), ("cards/render.py", "extension")})


def test_nothing_outside_mappings_reads_fhir_json():
    hits = []
    for name, path in _modules().items():
        if name.startswith("mappings"):
            continue
        rel = str(path.relative_to(REPO))
        hits += [h for h in _fhir_reads(path) if (rel, h.rsplit("'", 2)[1]) not in CDS_HOOKS_JSON_READS]
    assert hits == []


def test_the_fhir_read_rule_sees_a_read_and_ignores_a_write(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('def f(r):\n    out = {"resourceType": "Bundle"}\n    return r.get("entry"), r["coding"], out\n')
    global REPO
    saved, REPO = REPO, tmp_path
    try:
        assert [h.split(" ", 1)[1] for h in _fhir_reads(sample)] == ["reads 'entry'", "reads 'coding'"]
    finally:
        REPO = saved

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.unit
