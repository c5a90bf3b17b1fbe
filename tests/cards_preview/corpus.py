"""Every scenario's cards, for the wording test and the preview page.

The corpus: each CDS Hooks fixture (fixtures/hooks), each patient Bundle of fixtures/bundles
as an order-sign call, the same without its Coverage, a few requests the issue named
(capecitabine, anastrozole, trastuzumab alone for HER2 negative, triple-negative regimens for
an ER-positive patient), and every engine scenario (tests/test_engine_scenarios.py) rendered
from its Decision. Markdown is rendered with markdown-it-py, as a CDS client would.
"""
from __future__ import annotations

import copy
import html
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "fixtures" / "hooks"))
sys.path.insert(0, str(REPO / "tests"))

from build import _load, hook_request  # noqa: E402

BASE = "https://oncopath.example.org"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


_KB = None


@dataclass
class Rendered:
    name: str
    body: dict
    case_status: str | None        # None: no case (no coverage, order-select)
    drafts: list[dict]


def _drug_draft(key: str, text: str, id_: str) -> dict:
    """A draft order for a knowledge-base drug, coded with the knowledge base's own RxNorm code."""
    from server.knowledge.loader import load_knowledge

    global _KB
    _KB = _KB or load_knowledge()
    rx = _KB.drugs[key].rxnorm[0]
    return {"resourceType": "MedicationRequest", "id": id_, "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rx}], "text": text},
            "subject": {"reference": "Patient/thp-patient"}}


def _with_drafts(bundle: dict, drafts: list[dict]) -> dict:
    b = copy.deepcopy(bundle)
    b["entry"] = [e for e in b["entry"]
                  if not (e["resource"]["resourceType"] == "MedicationRequest" and e["resource"].get("status") == "draft")]
    b["entry"] += [{"resource": d} for d in drafts]
    return b


def _set_obs(bundle: dict, obs_id: str, code: str, display: str) -> dict:
    b = copy.deepcopy(bundle)
    for e in b["entry"]:
        if e["resource"]["id"] == obs_id:
            e["resource"]["valueCodeableConcept"] = {"coding": [{"system": "http://loinc.org", "code": code,
                                                                 "display": display}]}
    return b


def hook_requests() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in sorted((REPO / "fixtures" / "hooks").glob("*.json")):
        out[f"hooks/{p.stem}"] = json.loads(p.read_text())
    for p in sorted((REPO / "fixtures" / "bundles").glob("*.json")):
        b = json.loads(p.read_text())
        kinds = {e["resource"]["resourceType"] for e in b.get("entry", [])}
        if "Patient" not in kinds or "Claim" in kinds:
            continue
        out[f"bundles/{p.stem}"] = hook_request(b, "order-sign", f"corpus-{p.stem}")
        nocov = copy.deepcopy(b)
        nocov["entry"] = [e for e in nocov["entry"] if e["resource"]["resourceType"] != "Coverage"]
        out[f"no-coverage/{p.stem}"] = hook_request(nocov, "order-sign", f"corpus-nocov-{p.stem}")
    thp = _load("thp-her2-positive-metastatic.json")
    her2_neg = _set_obs(thp, "her2-interpretation", "LA6577-6", "Negative")
    for e in her2_neg["entry"]:
        if e["resource"]["id"] == "her2-ihc":
            e["resource"]["valueCodeableConcept"] = {"text": "1+"}
    no_her2 = copy.deepcopy(thp)
    no_her2["entry"] = [e for e in no_her2["entry"] if e["resource"]["id"] not in ("her2-ihc", "her2-interpretation")]
    out["issue/her2-not-reported-thp"] = hook_request(no_her2, "order-sign", "corpus-no-her2")
    out["issue/trastuzumab-alone-her2-negative"] = hook_request(
        _with_drafts(her2_neg, [_drug_draft("trastuzumab", "trastuzumab 8 mg/kg IV", "trastuzumab")]),
        "order-sign", "corpus-trastuzumab-alone")
    out["issue/capecitabine-oral"] = hook_request(
        _with_drafts(her2_neg, [_drug_draft("capecitabine", "capecitabine 1000 mg/m2 PO twice daily", "capecitabine")]),
        "order-sign", "corpus-capecitabine")
    out["issue/anastrozole-oral"] = hook_request(
        _with_drafts(her2_neg, [_drug_draft("anastrozole", "anastrozole 1 mg PO daily", "anastrozole")]),
        "order-sign", "corpus-anastrozole")
    out["issue/pembrolizumab-paclitaxel-er-positive"] = hook_request(
        _with_drafts(her2_neg, [_drug_draft("pembrolizumab", "pembrolizumab 200 mg IV", "pembrolizumab"),
                                _drug_draft("paclitaxel", "paclitaxel 90 mg/m2 IV", "paclitaxel")]),
        "order-sign", "corpus-pembro-pacli")
    out["issue/carboplatin-paclitaxel-er-positive"] = hook_request(
        _with_drafts(her2_neg, [_drug_draft("carboplatin", "carboplatin AUC 2 IV", "carboplatin"),
                                _drug_draft("paclitaxel", "paclitaxel 80 mg/m2 IV", "paclitaxel")]),
        "order-sign", "corpus-carbo-pacli")
    return out


def render_hooks(tmp: Path | None = None) -> list[Rendered]:
    from server.app import create_app

    tmp = tmp or Path(tempfile.mkdtemp())
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp / 'corpus.db'}", "CDS_JWT_REQUIRED": False,
                      "PUBLIC_BASE_URL": BASE, "PAYER_NAME": "Summit Health Plan", "SECRET_KEY": "corpus"})
    app.extensions["oncopath.clock"] = lambda: NOW
    client = app.test_client()
    store = app.extensions["oncopath.store"]
    out = []
    for name, req in hook_requests().items():
        resp = client.post(f"/cds-services/oncopath-{req['hook']}", json=req)
        assert resp.status_code == 200, (name, resp.get_json())
        case = store.find_case_by_request_key(req["hookInstance"])
        drafts = [e["resource"] for e in req["context"]["draftOrders"]["entry"]]
        out.append(Rendered(name, resp.get_json(), case.status if case else None, drafts))
    return out


def render_engine_scenarios() -> list[Rendered]:
    """Every engine scenario's Decision through the cards, with drafts made from its drug lines."""
    from cards import RenderContext, render
    from cards.context import ServiceInfo
    from test_engine_scenarios import KB, SCENARIOS, decide

    out = []
    for s in SCENARIOS:
        decision = decide(s.order, KB, s.history)
        drafts = []
        for line in s.order.drugs:
            kind, _, id_ = line.ref.partition("/")
            if kind != "MedicationRequest":
                kind, id_ = "MedicationRequest", id_ or line.ref.replace("/", "-")
            drafts.append({"resourceType": kind, "id": id_, "status": "draft", "intent": "order",
                           "medicationCodeableConcept": {"text": line.display or id_}})
        ctx = RenderContext(hook="order-sign", hook_instance=f"scenario-{s.id}", payer_name="Summit Health Plan",
                            draft_orders=drafts, targets=drafts, today=date(2026, 11, 16),
                            coverage_ref={"reference": "Coverage/c1"}, order_id="ONC-SCENARIO01", knowledge=KB,
                            service=ServiceInfo(base_url=BASE, link_key="corpus"),
                            worksheet_url=lambda ct: f"{BASE}/fhir/Questionnaire/oncopath-worksheet-{ct}")
        out.append(Rendered(f"engine/{s.id}", render(decision, ctx), decision.case_status.value, drafts))
    return out


def corpus(tmp: Path | None = None) -> list[Rendered]:
    return render_hooks(tmp) + render_engine_scenarios()


# --- the page a human reads -----------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; background: #f4f5f7; }
h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; color: #444; }
.card { background: #fff; border: 1px solid #d0d4da; border-left: 6px solid #5b8def; border-radius: 4px;
        padding: .6rem 1rem; margin: .5rem 0; max-width: 46rem; }
.card.warning { border-left-color: #e8a317; } .card.critical { border-left-color: #c0392b; }
.summary { font-weight: 650; font-size: 1.02rem; } .source { color: #666; font-size: .8rem; }
.detail p, .detail ul { margin: .35rem 0; } .detail ul { padding-left: 1.2rem; }
.suggestions button, .links a { display: inline-block; margin: .3rem .4rem 0 0; padding: .3rem .7rem;
        border: 1px solid #3b6fd6; border-radius: 3px; background: #fff; color: #1f4fb0; font: inherit;
        text-decoration: none; white-space: nowrap; }
.none { color: #666; font-style: italic; }
"""


def card_html(card: dict) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    parts = [f'<div class="card {html.escape(card["indicator"])}" data-topic="{html.escape(card["source"]["topic"]["code"])}">',
             f'<div class="source">{html.escape(card["source"]["label"])} · {html.escape(card["source"]["topic"]["display"])}</div>',
             f'<div class="summary">{html.escape(card["summary"])}</div>',
             f'<div class="detail">{md.render(card.get("detail") or "")}</div>']
    if card.get("suggestions"):
        parts.append('<div class="suggestions">' + "".join(
            f"<button>{html.escape(s['label'])}</button>" for s in card["suggestions"]) + "</div>")
    if card.get("links"):
        parts.append('<div class="links">' + "".join(
            f'<a href="{html.escape(link["url"])}">{html.escape(link["label"])}</a>' for link in card["links"]) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def page(rendered: list[Rendered], title: str = "oncopath cards preview") -> str:
    sections = []
    for r in rendered:
        cards = "".join(card_html(c) for c in r.body["cards"]) or '<p class="none">no cards</p>'
        status = f" — case {r.case_status}" if r.case_status else " — no case stored"
        sections.append(f'<section id="{html.escape(r.name)}"><h2>{html.escape(r.name)}{html.escape(status)}</h2>'
                        f"{cards}</section>")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>")
