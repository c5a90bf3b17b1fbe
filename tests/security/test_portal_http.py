"""The portal and HTTP hardening: cookies, sign-out, throttled and constant-time sign-in,
security headers, CORS without credentials, and the reviewer API's numbers and dates."""
from __future__ import annotations

import re
import statistics
import time

import pytest
from flask.testing import FlaskClient

from reliability.harness import CLOCK, load_fixture
from server.review.accounts import hash_password

from .conftest import SUBMIT, VICTIM_NPI, Party, make_closed_app, outcome

PASSWORD = "a long passphrase for tests"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def portal(app):
    app.extensions["oncopath.review"].reviews.add_reviewer("paul", "physician", hash_password(PASSWORD), now=CLOCK)
    return FlaskClient(app)


def sign_in(client, password=PASSWORD, username="paul"):
    page = client.get("/portal/login").get_data(as_text=True)
    return client.post("/portal/login", data={"username": username, "password": password, "csrf_token": csrf(page)})


def test_the_session_cookie_is_samesite_lax_and_httponly(portal):
    resp = sign_in(portal)
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie


def test_behind_https_the_cookie_is_secure_and_hsts_is_sent(tmp_path):
    app = make_closed_app(tmp_path, PUBLIC_BASE_URL="https://oncopath.example.org")
    app.extensions["oncopath.review"].reviews.add_reviewer("paul", "physician", hash_password(PASSWORD), now=CLOCK)
    client = FlaskClient(app)
    resp = sign_in(client)
    assert "Secure" in resp.headers["Set-Cookie"]
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_signing_out_revokes_the_session_even_for_a_copy_of_the_cookie(app, portal):
    sign_in(portal)
    cookie = portal.get_cookie("session").value
    assert portal.get("/portal/review/").status_code == 200
    page = portal.get("/portal/review/").get_data(as_text=True)
    portal.post("/portal/logout", data={"csrf_token": csrf(page)})
    thief = FlaskClient(app)
    thief.set_cookie("session", cookie)
    resp = thief.get("/portal/review/")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]


def test_seventy_wrong_passwords_do_not_end_with_the_right_one_working(portal):
    statuses = [sign_in(portal, password=f"wrong-{i}").status_code for i in range(70)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    final = sign_in(portal)
    assert final.status_code == 429 and "Too many failed sign-ins" in final.get_data(as_text=True)


def test_the_reviewer_api_token_is_throttled_too(app, portal):
    client = FlaskClient(app)
    for _ in range(10):
        assert client.post("/review/api/token", json={"username": "paul", "password": "nope"}).status_code == 401
    issue = outcome(client.post("/review/api/token", json={"username": "paul", "password": PASSWORD}), 429)
    assert issue["code"] == "throttled"


def test_sign_in_takes_as_long_for_an_unknown_name_as_for_a_wrong_password(app, portal):
    from server.errors import Unauthorized
    from server.security import throttle

    service = app.extensions["oncopath.review"]

    def timed(username):
        with app.test_request_context("/review/api/token", method="POST"):
            started = time.perf_counter()
            with pytest.raises(Unauthorized):
                throttle.authenticate(service, username, "wrong password")
            return time.perf_counter() - started

    guard = app.extensions["oncopath.throttle"]
    guard.per_user = guard.per_address = __import__("limits").parse("1000/minute")
    timed("paul"), timed("nobody")                     # warm both paths
    known, unknown = [], []
    for i in range(9):                                 # interleaved: the machine's drift hits both
        known.append(timed("paul"))
        unknown.append(timed(f"nobody-{i}"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, (known, unknown)


@pytest.mark.parametrize("path", ["/portal/", "/portal/login", "/cds-services", "/fhir/metadata"])
def test_every_answer_carries_the_security_headers(app, path):
    resp = FlaskClient(app).get(path)
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


def test_pages_with_phi_are_not_cached(app, victim):
    order_id = victim.post(SUBMIT, load_fixture("pas/thp-her2-positive.json")).get_json()["entry"][0]["resource"][
        "preAuthRef"]
    for path in (f"/orders/{order_id}/summary", f"/fhir/ClaimResponse/{order_id}"):
        assert victim.get(path).headers["Cache-Control"] == "no-store"
    assert FlaskClient(app).get("/portal/status?order_id=x&npi=y").headers["Cache-Control"] == "no-store"


def test_cors_never_echoes_an_origin_with_credentials(app):
    for origin in ("null", "https://evil.example"):
        resp = FlaskClient(app).get("/cds-services", headers={"Origin": origin})
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "Access-Control-Allow-Origin" not in FlaskClient(app).get("/portal/login").headers


@pytest.fixture
def pended(app):
    gateway = Party(app, [VICTIM_NPI])
    resp = gateway.post(SUBMIT, load_fixture("pas/trastuzumab-her2-negative.json"))
    assert resp.status_code == 200
    claim_response = resp.get_json()["entry"][0]["resource"]
    assert app.extensions["oncopath.store"].get_case(claim_response["id"]).status == "In Progress"
    return claim_response["id"]


@pytest.mark.parametrize("raw", ['{"quantities": {"item/1": NaN}}', '{"quantities": {"item/1": Infinity}}',
                                 '{"quantities": {"item/1": -Infinity}}', '{"quantities": {"item/1": 1e999}}',
                                 '{"quantities": {"item/1": "Infinity"}}', '{"quantities": {"item/1": "nan"}}'])
def test_an_approval_with_a_non_finite_quantity_is_refused_and_nothing_changes(app, portal, pended, raw):
    token = FlaskClient(app).post("/review/api/token", json={"username": "paul", "password": PASSWORD}).get_json()
    resp = FlaskClient(app).post(f"/review/api/cases/{pended}/actions/approve", data=raw,
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {token['access_token']}"})
    assert resp.status_code in (400, 422), resp.data
    assert resp.get_json()["resourceType"] == "OperationOutcome"
    assert app.extensions["oncopath.store"].get_case(pended).status == "In Progress"


def test_a_non_finite_quantity_in_the_portal_form_is_refused(app, portal, pended):
    sign_in(portal)
    page = portal.get(f"/portal/review/cases/{pended}").get_data(as_text=True)
    resp = portal.post(f"/portal/review/cases/{pended}/approve",
                       data={"csrf_token": csrf(page), "quantity-item/1": "inf"})
    assert resp.status_code == 422 and "finite" in resp.get_data(as_text=True)
    assert app.extensions["oncopath.store"].get_case(pended).status == "In Progress"


@pytest.mark.parametrize("query", ["from=0001-01-01&to=9999-12-31", "from=1900-01-01&to=2026-01-01",
                                   "from=2000-01-01&to=2099-12-31"])
def test_metrics_date_ranges_are_bounded(app, portal, query):
    token = FlaskClient(app).post("/review/api/token", json={"username": "paul", "password": PASSWORD}).get_json()
    resp = FlaskClient(app).get(f"/review/api/metrics?{query}", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert outcome(resp, 400)["code"] == "value"

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
