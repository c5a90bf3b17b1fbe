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
