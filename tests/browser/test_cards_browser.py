"""The cards as a CDS client shows them, in a real browser (headless Debian Chromium driven
by Playwright), and the worksheet a clinician opens from the pended card.

A small harness page renders each response's cards the way a CDS Hooks client does (summary,
Markdown detail, suggestion buttons, links); screenshots of the authorized, pended,
off-pathway, pharmacy-benefit and no-coverage cards go to var/artifacts/cards-*.png. Then the
pended card's worksheet link is clicked: the form opens prefilled, HER2 positive is reported,
and the case is Authorized.
"""
from __future__ import annotations

import copy
import sys
import threading
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "fixtures" / "hooks"))

from browser.test_portal_browser import CHROMIUM, CHROMIUM_ARGS, browser_or_skip  # noqa: E402,F401
from build import _her2_negative, _load, hook_request  # noqa: E402
from cards_preview.corpus import Rendered, page  # noqa: E402
from test_worksheets import her2_not_reported, make_app  # noqa: E402

ARTIFACTS = REPO / "var" / "artifacts"


@pytest.fixture
def live(tmp_path, browser_or_skip):  # noqa: F811
    from werkzeug.serving import make_server

    app = make_app(tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = base          # card links point at this live server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, app
    finally:
        server.shutdown()


def _sign(base: str, body: dict) -> dict:
    resp = requests.post(f"{base}/cds-services/oncopath-order-sign", json=body, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _scenarios() -> dict[str, dict]:
    thp = _load("thp-her2-positive-metastatic.json")
    nocov = copy.deepcopy(thp)
    nocov["entry"] = [e for e in nocov["entry"] if e["resource"]["resourceType"] != "Coverage"]
    return {
        "authorized": hook_request(thp, "order-sign", "browser-authorized"),
        "pended": her2_not_reported("browser-pended"),
        "off-pathway": hook_request(_her2_negative(thp), "order-sign", "browser-off-pathway"),
        "pharmacy-benefit": hook_request(_load("palbociclib-hr-positive.json"), "order-sign", "browser-pbm"),
        "no-coverage": hook_request(nocov, "order-sign", "browser-no-coverage"),
    }


def test_the_main_cards_read_well_in_a_browser_and_the_worksheet_authorizes_the_pended_case(live):
    from playwright.sync_api import expect, sync_playwright

    base, app = live
    bodies = {name: _sign(base, req) for name, req in _scenarios().items()}
    expected_first = {"authorized": "Authorized: Order ID ONC-", "pended": "Pended for review: HER2 not in the record.",
                      "off-pathway": "Pended for review: docetaxel, trastuzumab and pertuzumab require",
                      "pharmacy-benefit": "Palbociclib and letrozole: pharmacy benefit.",
                      "no-coverage": "No active coverage on file: nothing was authorized."}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_context(viewport={"width": 860, "height": 700}).new_page()
            store = app.extensions["oncopath.store"]
            for name, body in bodies.items():
                case = store.find_case_by_request_key(_scenarios()[name]["hookInstance"])
                tab.set_content(page([Rendered(name, body, case.status if case else None, [])],
                                     title=f"order-sign: {name}"))
                summaries = tab.locator(".card .summary")
                expect(summaries.first).to_contain_text(expected_first[name])
                if name == "off-pathway":
                    expect(tab.locator(".card[data-topic=off-guideline] .summary")).to_have_text(
                        "Off pathway for breast cancer. 3 on-pathway regimens fit this patient.")
                    expect(tab.get_by_role("button", name="Switch to Palbociclib + aromatase inhibitor")).to_be_visible()
                # every suggestion button fits on one line
                for button in tab.locator(".suggestions button").all():
                    assert button.bounding_box()["height"] < 40, button.inner_text()
                shot = ARTIFACTS / f"cards-{name}.png"
                tab.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 5000

            # The pended card's worksheet, opened the way a clinician does: from the card's link.
            tab.set_content(page([Rendered("pended", bodies["pended"], "In Progress", [])]))
            tab.get_by_role("link", name="Fill in the worksheet (breast cancer)").click()
            expect(tab.get_by_role("heading", name="Oncology regimen worksheet: Breast cancer")).to_be_visible()
            expect(tab.get_by_label("Stage group (AJCC), or 'not staged'")).to_have_value("IV")
            expect(tab.locator("#biomarkers\\.ER")).to_have_value("positive")
            expect(tab.locator("#biomarkers\\.HER2")).to_have_value("")
            expect(tab.locator("#case-status")).to_have_text("In Progress")
            tab.locator("#biomarkers\\.HER2").select_option("positive")
            tab.locator("#biomarkers\\.HER2\\.value").fill("IHC 3+")
            tab.screenshot(path=str(ARTIFACTS / "worksheet-form.png"), full_page=True)
            tab.get_by_role("button", name="Submit worksheet").click()
            expect(tab.get_by_role("heading", name="Worksheet received")).to_be_visible()
            expect(tab.locator("#case-status")).to_have_text("Authorized")
            tab.screenshot(path=str(ARTIFACTS / "worksheet-authorized.png"), full_page=True)
        finally:
            browser.close()
    store = app.extensions["oncopath.store"]
    record = store.find_case_by_request_key("browser-pended")
    assert record.status == "Authorized" and store.case_events(record.order_id)[-1].kind == "worksheet"
    assert store.find_case_by_request_key("browser-no-coverage") is None

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
