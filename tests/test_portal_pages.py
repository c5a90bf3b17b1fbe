"""The portal's pages without a browser: access, status check, accessible markup, no JS needed."""
from __future__ import annotations

import re

from test_review_api import (PASSWORD, SUBMITTER_NPI, api, claim_response, pended, review_app,  # noqa: F401
                             submit, thp_her2_unknown, urgent)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username="paul"):
    page = client.get("/portal/login").get_data(as_text=True)
    return client.post("/portal/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(page)})


def test_the_home_page_has_landmarks_headings_and_no_script(api):
    client, *_ = api
    html = client.get("/portal/").get_data(as_text=True)
    assert '<html lang="en">' in html and "<main" in html and "<nav" in html and "<h1>" in html
    assert "<script" not in html


def test_the_review_pages_need_a_signed_in_reviewer(api, pended):  # noqa: F811
    client, *_ = api
    resp = client.get("/portal/review/")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]
    assert client.get(f"/portal/review/cases/{pended}").status_code == 302


def test_a_wrong_password_does_not_sign_in(api):
    client, *_ = api
    page = client.get("/portal/login").get_data(as_text=True)
    resp = client.post("/portal/login", data={"username": "paul", "password": "wrong", "csrf_token": csrf(page)})
    assert resp.status_code == 401 and "wrong password" in resp.get_data(as_text=True)
    assert client.get("/portal/review/").status_code == 302


def test_login_without_csrf_token_is_refused(api):
    client, *_ = api
    resp = client.post("/portal/login", data={"username": "paul", "password": PASSWORD})
    assert resp.status_code == 400


def test_the_queue_lists_the_oldest_urgent_case_first(api):
    client, *_ = api
    standard = claim_response(submit(client, thp_her2_unknown("std")))["id"]
    rush = claim_response(submit(client, urgent(thp_her2_unknown("rush"))))["id"]
    sign_in(client)
    html = client.get("/portal/review/").get_data(as_text=True)
    assert html.index(rush) < html.index(standard)
    assert '<th scope="col">Due by</th>' in html


def test_the_case_page_shows_inputs_trace_history_and_only_allowed_forms(api, pended):  # noqa: F811
    client, *_ = api
    sign_in(client, "nina")
    html = client.get(f"/portal/review/cases/{pended}").get_data(as_text=True)
    for section in ("Inputs", "Decision trace", "History", "Actions"):
        assert f">{section}</h2>" in html
    assert "C50" in html and "R4" in html
    assert 'action="/portal/review/cases/%s/approve"' % pended in html
    assert "/deny" not in html                                   # a nurse gets no deny form
    assert '<label for="information">' in html


def test_a_refused_portal_action_shows_the_reason(api, pended):  # noqa: F811
    client, *_ = api
    sign_in(client)
    page = client.get(f"/portal/review/cases/{pended}").get_data(as_text=True)
    resp = client.post(f"/portal/review/cases/{pended}/deny", data={"csrf_token": csrf(page),
                                                                    "reason": "HER2 negative on retest"})
    assert resp.status_code == 409
    assert "peer-to-peer" in resp.get_data(as_text=True)


def test_the_provider_status_page_needs_the_order_id_and_the_submitting_npi(api, pended):  # noqa: F811
    client, *_ = api
    mine = client.get(f"/portal/status?order_id={pended}&npi={SUBMITTER_NPI}")
    html = mine.get_data(as_text=True)
    assert mine.status_code == 200 and 'id="case-status">In Progress' in html
    link = f"/portal/status/summary?order_id={pended}&amp;npi={SUBMITTER_NPI}"
    assert link in html
    printable = client.get(link.replace("&amp;", "&"))
    assert printable.status_code == 200 and pended in printable.get_data(as_text=True)
    assert "Use your browser's Print command" in printable.get_data(as_text=True)
    other = client.get(f"/portal/status?order_id={pended}&npi=1245319599")
    assert other.status_code == 404 and "In Progress" not in other.get_data(as_text=True)
    assert client.get(f"/portal/status/summary?order_id={pended}&npi=1245319599").status_code == 404
    form = client.get("/portal/status").get_data(as_text=True)
    assert '<label for="order_id">' in form and '<label for="npi">' in form


def test_the_metrics_page_draws_an_svg_chart(api, pended):  # noqa: F811
    client, *_ = api
    sign_in(client)
    html = client.get("/portal/review/metrics?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert "<svg" in html and "<title id=\"chart-title\">" in html and "2026-11 pending: 1" in html
    csv = client.get("/portal/review/metrics.csv?from=2026-11-01&to=2026-11-30")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).startswith("period,type,requests")


def test_signing_out_ends_the_session(api):
    client, *_ = api
    sign_in(client)
    page = client.get("/portal/review/").get_data(as_text=True)
    client.post("/portal/logout", data={"csrf_token": csrf(page)})
    assert client.get("/portal/review/").status_code == 302

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
