"""The validated-file cache of the knowledge-base loader: a worker that starts on files validated
before skips YAML parsing and schema validation, and any changed byte is validated again."""
from __future__ import annotations

import shutil

import pytest

from server.knowledge import loader
from server.knowledge.loader import DATA_DIR, KnowledgeError

pytestmark = pytest.mark.unit


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("ONCOPATH_KB_CACHE", str(d))
    return d


def _count_misses(monkeypatch) -> list[str]:
    misses: list[str] = []
    real = loader._cache_get

    def get(key):
        found = real(key)
        if found is None:
            misses.append(key)
        return found
    monkeypatch.setattr(loader, "_cache_get", get)
    return misses


def test_a_second_load_of_the_same_files_reads_the_cache_and_builds_the_same_knowledge(cache, monkeypatch):
    first = loader._Loader(DATA_DIR).load()
    entries = list(cache.glob("*.json"))
    assert len(entries) >= 70          # one per file that round-trips through JSON exactly
    misses = _count_misses(monkeypatch)
    second = loader._Loader(DATA_DIR).load()
    # only program/genes.yaml (exon numbers as integer keys) is parsed and validated again
    assert len(misses) == 1
    assert repr(second) == repr(first)
    assert [r.id for p in second.pathways for r in p.regimens] == [r.id for p in first.pathways for r in p.regimens]


def test_a_changed_file_misses_the_cache_and_its_schema_error_is_still_reported(cache, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    loader._Loader(data).load()                       # every file validated and cached
    path = data / "pathways" / "breast.yaml"
    path.write_text(path.read_text().replace("fn_risk: high", "fn_risk: enormous", 1))
    with pytest.raises(KnowledgeError) as err:
        loader._Loader(data).load()
    assert "pathways/breast.yaml" in str(err.value) and "fn_risk" in str(err.value)


def test_a_changed_schema_invalidates_every_entry(cache, monkeypatch):
    loader._Loader(DATA_DIR).load()
    before = loader._cache_key(b"same bytes", "drugs.schema.json")
    monkeypatch.setattr(loader, "_schema_fingerprint", lambda: b"another schema set")
    assert loader._cache_key(b"same bytes", "drugs.schema.json") != before


def test_a_mapping_with_integer_keys_is_not_cached_since_json_would_turn_them_into_strings(cache):
    loader._cache_put("k", {"exon_codons": {19: [729, 761]}})
    assert loader._cache_get("k") is None
    loader._cache_put("j", {"exon_codons": {"EGFR": [729, 761]}})
    assert loader._cache_get("j") == {"exon_codons": {"EGFR": [729, 761]}}


def test_the_loader_validates_every_time_when_the_cache_is_off_or_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("ONCOPATH_KB_CACHE", "off")
    loader._Loader(DATA_DIR).load()
    assert loader._cache_dir() is None
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ONCOPATH_KB_CACHE", str(blocker / "cache"))
    kb = loader._Loader(DATA_DIR).load()                # mkdir fails: loads anyway, caches nothing
    assert kb.pathways and not (blocker / "cache").exists()


def test_a_corrupt_cache_entry_is_ignored_and_the_file_validated_again(cache):
    loader._Loader(DATA_DIR).load()
    for entry in cache.glob("*.json"):
        entry.write_text("{not json")
    kb = loader._Loader(DATA_DIR).load()
    assert len([r for p in kb.pathways for r in p.regimens]) >= 300


def test_kb_check_on_a_broken_file_names_file_and_field_and_exits_2_without_a_traceback(tmp_path, capsys):
    from server.cli import main as cli_main
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "pathways" / "breast.yaml"
    path.write_text(path.read_text().replace("fn_risk: high", "fn_risk: enormous", 1))
    assert cli_main(["kb", "check", "--knowledge-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "pathways/breast.yaml" in err and "fn_risk" in err and "Traceback" not in err
