"""Knowledge-base releases (R18): each quarterly version's catalogue is kept as
data/releases/<version>.json when it is released (`oncopath kb snapshot`). A decision records the
version it used; after a pathway is retired or a regimen changed in a later version, the
snapshot still explains the decision (criteria, regimen, sources as they were)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from .catalogue import catalogue
from .loader import DATA_DIR
from .model import Knowledge

_VERSION = re.compile(r"^[0-9]{4}\.[0-9]+(\.[0-9]+)?$")


def releases_dir(knowledge_dir: str | Path | None = None) -> Path:
    return Path(knowledge_dir or DATA_DIR) / "releases"


def write_snapshot(kb: Knowledge, knowledge_dir: str | Path | None = None) -> Path:
    out = releases_dir(knowledge_dir) / f"{kb.version}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(catalogue(kb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def read_snapshot(version: str, knowledge_dir: str | Path | None = None) -> dict | None:
    if not _VERSION.match(version):
        return None
    path = releases_dir(knowledge_dir) / f"{version}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def explain(snapshot: dict, pathway_id: str | None, regimen_id: str | None) -> dict | None:
    """The pathway and regimen of a decision as the release it used described them."""
    for ct in snapshot["cancer_types"]:
        for p in ct["pathways"]:
            if p["id"] == pathway_id:
                regimen = next((r for r in p["regimens"] if r["id"] == regimen_id), None)
                return {"cancer_type": ct["name"], "pathway": p, "regimen": regimen}
    return None
