"""The knowledge catalogue a pathway committee reviews: every pathway and regimen of the loaded
knowledge base, with its source and tag, in the HTML page and the JSON."""
from __future__ import annotations

import pytest

from server.knowledge.loader import load_knowledge

pytestmark = pytest.mark.e2e


def test_the_catalogue_page_lists_every_regimen_with_its_tag_and_source(client):
    kb = load_knowledge()
    page = client.get("/knowledge")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for p in kb.pathways:
        assert f'id="pw-{p.id}"' in html
        for r in p.regimens:
            assert f'id="rg-{r.id}"' in html
    assert f"Knowledge base {kb.version}" in html


def test_the_catalogue_json_gives_the_figures_and_each_indications_source(client):
    kb = load_knowledge()
    body = client.get("/knowledge.json").get_json()
    assert body["stats"]["regimens"] == sum(len(p.regimens) for p in kb.pathways)
    ids = {i["id"]: i for pol in body["policies"] for i in pol["indications"]}
    some = next(i for p in kb.policies.values() for i in p.indications)
    assert ids[some.id]["tag"] == some.evidence.tag
    assert ids[some.id]["source"] == some.evidence.cite()


def test_every_released_version_keeps_its_catalogue_and_it_explains_a_decision_of_that_version(client):
    """R18: a decision names the knowledge-base version it used; that release's snapshot still
    describes its pathway and regimen after later versions retire or change them."""
    import yaml

    from server.knowledge.loader import DATA_DIR
    from server.knowledge.releases import explain, read_snapshot
    kb_doc = yaml.safe_load((DATA_DIR / "kb.yaml").read_text())
    for entry in kb_doc["changelog"]:
        assert read_snapshot(entry["version"]) is not None, f"release {entry['version']} has no snapshot"
    old = read_snapshot("2026.4")
    # the 2026.4 HER2-positive metastatic pathway and THP, as that release described them
    found = explain(old, "breast-her2pos-metastatic-1l", "breast-her2-met-thp")
    assert found is not None and found["regimen"]["name"].startswith("THP")
    body = client.get("/knowledge/releases/2026.4.json")
    assert body.status_code == 200 and body.get_json()["version"] == "2026.4"
    missing = client.get("/knowledge/releases/1999.1.json")
    assert missing.status_code == 404
    assert missing.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/knowledge/releases/..%2Fkb.json").status_code == 404
