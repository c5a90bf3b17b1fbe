"""Wording reviewed as a whole: the cards of every scenario (fixtures, the issue's requests,
every engine scenario) against the rules a clinician reads them by. Writes the preview page
var/artifacts/cards-preview.html for a human read."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mappings.crd_checks import RESOURCE_ID, response_problems
from tests.cards_preview.corpus import corpus, page

REPO = Path(__file__).resolve().parents[1]
PREVIEW = REPO / "var" / "artifacts" / "cards-preview.html"
INTERNAL_KEY = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
MACHINE_WORDS = (" — or — ", "if eligibility is confirmed", "evaluated as a program member",
                 "is not on pathway for this patient", " a ER-",  "(R1", "(R2", "(R3",
                 "(R5", "day 1, 2, 3", "#", "+1 more")
FIRST_TOPIC = {"Authorized": {"guideline", "coverage-info"}, "In Progress": {"coverage-info"},
               "Completed": {"coverage-info", "insurance"}}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = corpus(tmp_path_factory.mktemp("corpus"))
    PREVIEW.parent.mkdir(parents=True, exist_ok=True)
    PREVIEW.write_text(page(out), encoding="utf-8")
    return out


def _lines(card: dict) -> list[str]:
    return [line for line in card["detail"].split("\n")
            if line.strip() and not line.startswith("**Orders:**") and not line.rstrip().endswith(":**")]


def test_the_corpus_covers_every_kind_of_status_card(rendered):
    assert len(rendered) > 60
    firsts = {r.body["cards"][0]["summary"].split(":")[0] for r in rendered if r.body["cards"]}
    assert {"Authorized", "Pended for review", "No active coverage on file"} <= firsts
    assert any(s.startswith("Off pathway") for r in rendered for c in r.body["cards"] for s in [c["summary"]])
    assert any("pharmacy benefit" in c["summary"] for r in rendered for c in r.body["cards"])


def test_every_response_meets_cds_hooks_and_crd_rules(rendered):
    for r in rendered:
        assert response_problems(r.body) == [], r.name


def test_every_card_has_a_real_source_url(rendered):
    for r in rendered:
        for c in r.body["cards"]:
            url = c["source"].get("url", "")
            assert url.startswith("https://oncopath.example.org/portal/"), (r.name, url)


def test_summaries_are_complete_sentences_under_140_characters(rendered):
    for r in rendered:
        for c in r.body["cards"]:
            s = c["summary"]
            assert len(s) < 140 and not s.endswith("…"), (r.name, s)
            assert s[0].isupper() and s[-1] in ".!?", (r.name, s)


def test_no_internal_keys_resource_ids_or_machine_words_reach_the_clinician(rendered):
    for r in rendered:
        for c in r.body["cards"]:
            words = " ".join([c["summary"], c["detail"], *[s["label"] for s in c.get("suggestions", [])],
                              *[link["label"] for link in c.get("links", [])]])
            assert not RESOURCE_ID.search(words), (r.name, words)
            assert not INTERNAL_KEY.search(words), (r.name, INTERNAL_KEY.search(words).group())
            for bad in MACHINE_WORDS:
                assert bad not in words, (r.name, bad)


def test_no_note_is_said_twice_in_one_response(rendered):
    for r in rendered:
        seen: list[str] = []
        for c in r.body["cards"]:
            for line in _lines(c):
                key = line.removeprefix("- ").strip().lower()
                assert key not in seen, (r.name, line)
                seen.append(key)


def test_the_first_card_says_where_the_case_stands(rendered):
    for r in rendered:
        if not r.body["cards"]:
            continue
        first = r.body["cards"][0]
        if r.case_status is None:
            assert first["summary"].startswith(("No active coverage on file", "Meets", "Would be pended")), r.name
            continue
        if r.case_status == "Authorized":
            assert first["summary"].startswith("Authorized"), (r.name, first["summary"])
        elif r.case_status == "In Progress":
            assert first["summary"].startswith("Pended for review"), (r.name, first["summary"])
        assert first["source"]["topic"]["code"] in FIRST_TOPIC.get(r.case_status, {"insurance", "coverage-info"}), \
            r.name


def test_every_pended_case_names_a_reason_and_what_to_send_or_do(rendered):
    for r in rendered:
        if r.case_status != "In Progress" or not r.body["cards"]:
            continue
        detail = r.body["cards"][0]["detail"]
        assert re.search(r"\*\*Why:\*\*\n\n- [A-Z].+\.", detail), (r.name, detail)
        assert "**What to send:**" in detail and "**Peer-to-peer:** call" in detail, r.name
        assert "**Decision due by:**" in detail, r.name


def test_an_oral_drug_gets_the_pharmacy_benefit_card_and_no_off_pathway_advice(rendered):
    for name in ("issue/capecitabine-oral", "issue/anastrozole-oral", "bundles/palbociclib-hr-positive"):
        body = next(r.body for r in rendered if r.name == name)
        topics = [c["source"]["topic"]["code"] for c in body["cards"]]
        assert "off-guideline" not in topics, name
        assert not any(c.get("suggestions") for c in body["cards"]), name
        pbm = body["cards"][0]
        assert "pharmacy benefit" in pbm["summary"] and "1-800-555-0178" in pbm["detail"], name


def test_trastuzumab_for_her2_negative_leads_with_the_her2_result(rendered):
    body = next(r.body for r in rendered if r.name == "issue/trastuzumab-alone-her2-negative")
    summary = body["cards"][0]["summary"]
    # the IHC score is kept in the report's notation (2027.1.4: HER2-low is read from it)
    assert summary.startswith("Pended for review: trastuzumab requires a HER2-positive result; record shows HER2 "
                              "negative (IHC 1+)."), summary
    assert "Custom Treatment Plan" not in summary


def test_a_triple_negative_regimen_for_an_er_positive_patient_says_why_in_clinical_words(rendered):
    body = next(r.body for r in rendered if r.name == "issue/pembrolizumab-paclitaxel-er-positive")
    pended, off = body["cards"][:2]
    # paclitaxel's KEYNOTE-355 indication is narrowed to triple-negative disease too (2027.1.1): one line for both
    assert "- Pembrolizumab and paclitaxel require an ER-negative result; the record shows ER positive." in pended["detail"]
    assert "neoadjuvant" not in pended["detail"], "the metastatic indication is the one this patient is near"
    assert "PD-L1 CPS" in pended["detail"] and "PDL1_CPS" not in pended["detail"]
    assert "**Why:** Pembrolizumab + paclitaxel or nab-paclitaxel is on pathway only for triple-negative " \
           "metastatic breast cancer" in off["detail"]
    assert "the record shows ER positive" in off["detail"]


def test_an_urgent_pended_request_explains_its_due_by_time(rendered):
    body = next(r.body for r in rendered if r.name == "engine/urgent-pended-request-is-due-within-24-hours")
    assert "(urgent request: decided within 24 hours)" in body["cards"][0]["detail"]
    body = next(r.body for r in rendered if r.name == "engine/standard-pended-request-is-due-in-three-business-days")
    assert "(standard request: decided within 3 business days)" in body["cards"][0]["detail"]


def test_without_coverage_the_cards_and_the_system_actions_agree(rendered):
    for r in rendered:
        if not r.name.startswith("no-coverage/"):
            continue
        assert r.case_status is None, f"{r.name}: no case is opened without coverage"
        [card] = r.body["cards"]
        assert card["source"]["topic"]["code"] == "insurance"
        assert "nothing was authorized" in card["summary"]
        for a in r.body["systemActions"]:
            ext = a["resource"]["extension"][-1]["extension"]
            assert {"url": "covered", "valueCode": "not-covered"} in ext, r.name


def test_alternatives_are_short_labelled_suggestions_with_compact_dosage(rendered):
    found = 0
    for r in rendered:
        for c in r.body["cards"]:
            for s in c.get("suggestions", []):
                found += 1
                assert len(s["label"]) <= 48, s["label"]
                for a in s["actions"]:
                    for d in (a.get("resource") or {}).get("dosageInstruction", []):
                        assert not re.search(r"\d+, \d+, \d+, \d+", d["text"]), d["text"]
    assert found


def test_the_preview_page_shows_every_scenario(rendered):
    html = PREVIEW.read_text(encoding="utf-8")
    assert html.count("<section ") == len(rendered)
    assert "Authorized: Order ID ONC-" in html and "Switch to THP" in html

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
