"""A real browser against the real service: headless Debian Chromium driven by Playwright.

A physician signs in, opens the oldest urgent case from the queue, records peer-to-peer,
approves it, and the provider's status page then shows Authorized. The screenshot goes to
var/artifacts/portal-approved.png.

The browser is the system's (/usr/bin/chromium, installed by `make browser`); Playwright's own
browser downloads are never used. No browser ⇒ skipped with a message, except under CI=true,
where it is a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from test_review_api import PASSWORD, SUBMITTER_NPI, make_app, thp_her2_unknown, urgent  # noqa: E402

CHROMIUM = os.environ.get("ONCOPATH_CHROMIUM", "/usr/bin/chromium")
ARTIFACT = REPO / "var" / "artifacts" / "portal-approved.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (run `make browser` as root to install Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser_or_skip():
    problem = _browser_missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run under CI: {problem}")
        pytest.skip(problem)


@pytest.fixture
def live_server(tmp_path, browser_or_skip):
    from werkzeug.serving import make_server

    app, clock = make_app(tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()


def _submit(base: str, bundle: dict, app) -> str:
    """$submit as the payer gateway would: with a registered client's access token."""
    from conftest import CLIENT_KEY, client_token, register_client

    if "tests.browser.token" not in app.extensions:
        app.extensions["tests.browser.token"] = client_token(app, CLIENT_KEY[0], register_client(app, CLIENT_KEY[1]))
    headers = {"Content-Type": "application/fhir+json",
               "Authorization": f"Bearer {app.extensions['tests.browser.token']}"}
    resp = requests.post(f"{base}/fhir/Claim/$submit", data=json.dumps(bundle), headers=headers, timeout=10)
    resp.raise_for_status()
    return resp.json()["entry"][0]["resource"]["id"]


def test_a_reviewer_approves_the_oldest_urgent_case_and_the_provider_sees_authorized(live_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, _app = live_server
    _submit(base, thp_her2_unknown("browser-standard"), _app)
    urgent_id = _submit(base, urgent(thp_her2_unknown("browser-urgent")), _app)

    with sync_playwright() as p:
        # A fresh temporary profile per launch; reviewer and provider get separate contexts
        # (separate cookies): the provider is not signed in.
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(f"{base}/portal/")
            page.get_by_role("link", name="Reviewer sign-in").click()
            page.get_by_label("Username").fill("paul")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Review queue")).to_be_visible()

            first = page.locator("#queue tbody tr").first.get_by_role("link")
            expect(first).to_have_text(urgent_id)
            first.click()
            expect(page.get_by_role("heading", name=f"Case {urgent_id}")).to_be_visible()

            page.get_by_label("Note (call, contact, time)").fill("called the ordering oncologist")
            page.get_by_role("button", name="Record peer-to-peer offered").click()
            expect(page.locator("#p2p")).to_have_text("offered")

            approve = page.get_by_role("form", name="Approve")
            approve.get_by_label("Note").fill("HER2 3+ report received")
            approve.get_by_role("button", name="Approve").click()
            expect(page.locator("#case-status")).to_have_text("Authorized")

            provider = browser.new_context().new_page()
            provider.goto(f"{base}/portal/status")
            provider.get_by_label("Order ID").fill(urgent_id)
            provider.get_by_label("Submitting provider NPI").fill(SUBMITTER_NPI)
            provider.get_by_role("button", name="Check status").click()
            expect(provider.locator("#case-status")).to_have_text("Authorized")
            expect(provider.get_by_role("link", name="Reviewer sign-in")).to_be_visible()
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            provider.screenshot(path=str(ARTIFACT), full_page=True)
        finally:
            browser.close()
    assert ARTIFACT.stat().st_size > 1000

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
