"""Request and outbound-fetch limits: each is a clear OperationOutcome (413 for the request's
size, depth and entries; 400 for escapes that are no text; 412 when a required read from the
EHR is cut), names its config key, and stores nothing."""
from __future__ import annotations

import copy
import http.server
import io
import json
import threading
import time

import pytest
import requests
import responses

from reliability.harness import load_fixture, make_app, reviewer_token, writes
from server import config
from server.hooks.fetcher import FhirFetcher
from server.security.outbound import OutboundPolicy
from server.http.limits import json_depth

SIGN = "/cds-services/oncopath-order-sign"
FEEDBACK = "/cds-services/oncopath-order-sign/feedback"
EHR = "https://ehr.example.org/fhir"


@pytest.fixture
def app(tmp_path):
    return make_app(f"sqlite:///{tmp_path / 'limits.db'}", MAX_CONTENT_LENGTH=200_000, MAX_BUNDLE_ENTRIES=40,
                    FHIR_FETCH_TIMEOUT=0.5)


@pytest.fixture
def client(app):
    return app.test_client()


def outcome(resp, status: int) -> dict:
    assert resp.status_code == status, resp.data[:300]
    assert resp.mimetype == "application/fhir+json"
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- config ---------------------------------------------------------------------------------

def test_every_limit_has_a_default_and_an_environment_variable():
    assert config.DEFAULTS["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert config.DEFAULTS["MAX_JSON_DEPTH"] == 64
    assert config.DEFAULTS["MAX_BUNDLE_ENTRIES"] == 1000
    assert config.DEFAULTS["FHIR_FETCH_TIMEOUT"] == 3.0
    assert config.DEFAULTS["FHIR_FETCH_MAX_BYTES"] == 5 * 1024 * 1024
    env = {"ONCOPATH_MAX_JSON_DEPTH": "32", "ONCOPATH_MAX_BUNDLE_ENTRIES": "200",
           "ONCOPATH_FHIR_FETCH_MAX_BYTES": "1048576", "ONCOPATH_FHIR_FETCH_TIMEOUT": "1.5"}
    assert config.from_environment(env) == {"MAX_JSON_DEPTH": 32, "MAX_BUNDLE_ENTRIES": 200,
                                            "FHIR_FETCH_MAX_BYTES": 1048576, "FHIR_FETCH_TIMEOUT": 1.5}


# -- body size ------------------------------------------------------------------------------

POSTS = [SIGN, FEEDBACK, "/fhir/Claim/$submit", "/fhir/Claim/$inquire", "/fhir/Subscription",
         "/review/api/token", "/review/api/cases/ONC-AAAAAAAAAA/actions/approve"]


@pytest.mark.parametrize("path", POSTS)
def test_a_body_over_max_content_length_is_a_413_operation_outcome_on_every_json_route(client, app, path):
    before = writes(app)
    big = json.dumps({"resourceType": "Bundle", "padding": "x" * 300_000})
    issue = outcome(client.post(path, data=big, content_type="application/json"), 413)
    assert issue["code"] == "too-costly"
    assert "MAX_CONTENT_LENGTH" in issue["diagnostics"] and "200000" in issue["diagnostics"]
    assert writes(app) == before


def test_a_portal_form_over_max_content_length_is_a_413_operation_outcome(client):
    issue = outcome(client.post("/portal/login", data={"username": "u" * 300_000, "password": "p"}), 413)
    assert issue["code"] == "too-costly"


def test_a_chunked_body_without_content_length_is_cut_at_the_limit_with_a_413(client):
    resp = client.post("/fhir/Claim/$submit", input_stream=io.BytesIO(b"[" + b"1," * 200_000 + b"1]"),
                       headers={"Content-Type": "application/fhir+json", "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})   # as gunicorn sets it
    issue = outcome(resp, 413)
    assert "MAX_CONTENT_LENGTH" in issue["diagnostics"]


# -- JSON depth ------------------------------------------------------------------------------

def test_json_depth_counts_arrays_and_objects_but_not_brackets_inside_strings():
    assert json_depth(b'{"a": [1, {"b": [[]]}]}') == 5
    assert json_depth(b'["[[[[[[", "]]]]"]') == 1
    assert json_depth(b'["\\"[[[[[", [[1]]]') == 3
    assert json_depth(b'"plain"') == 0


@pytest.mark.parametrize("path", [SIGN, "/fhir/Claim/$submit", "/fhir/Claim/$inquire", "/fhir/Subscription",
                                  "/review/api/token"])
def test_json_nested_deeper_than_max_json_depth_is_a_413_and_never_a_recursion_error(client, app, path):
    before = writes(app)
    for depth in (65, 5_000):
        issue = outcome(client.post(path, data=_nested(depth), content_type="application/json"), 413)
        assert issue["code"] == "too-costly"
        assert f"nests {depth} levels" in issue["diagnostics"] and "MAX_JSON_DEPTH" in issue["diagnostics"]
    assert writes(app) == before


def test_json_exactly_at_max_json_depth_is_parsed_and_answered_on_its_merits(client):
    issue = outcome(client.post("/fhir/Claim/$submit", data=_nested(64), content_type="application/json"), 400)
    assert "JSON object" in issue["diagnostics"]


def test_a_deep_value_inside_a_real_pas_bundle_is_a_413_not_a_500(client, app):
    bundle = load_fixture("pas/thp-her2-positive.json")
    deep: object = "x"
    for _ in range(100):
        deep = {"extension": [deep]}
    bundle["entry"][1]["resource"]["extension"] = [deep]
    issue = outcome(client.post("/fhir/Claim/$submit", json=bundle), 413)
    assert "MAX_JSON_DEPTH" in issue["diagnostics"]
    assert writes(app)["cases"] == 0


# -- escapes that are no text -----------------------------------------------------------------

@pytest.mark.parametrize("escape", ["\\ud800", "\\udc8a", "x\\ud83dy", "\\u0000"])
@pytest.mark.parametrize("path", [SIGN, "/fhir/Claim/$submit", "/fhir/Claim/$inquire"])
def test_a_lone_surrogate_or_nul_escape_is_a_400_before_it_reaches_the_database(client, app, path, escape):
    body = json.dumps(load_fixture("pas/inquiry-riverside.json" if "inquire" in path else
                                   "pas/thp-her2-positive.json" if "Claim" in path else
                                   "hooks/order-sign-thp-her2-positive.json"))
    body = body.replace('"onc-patient"', f'"onc-{escape}patient"').replace('"patient-1"', f'"p{escape}1"')
    before = writes(app)
    issue = outcome(client.post(path, data=body, content_type="application/json"), 400)
    assert "surrogate" in issue["diagnostics"] or "NUL" in issue["diagnostics"]
    assert writes(app) == before


def test_a_paired_surrogate_escape_is_ordinary_text(client):
    bundle = json.dumps(load_fixture("pas/thp-her2-positive.json")).replace('"Rivera"', '"Rivera \\ud83d\\udc8a"')
    resp = client.post("/fhir/Claim/$submit", data=bundle, content_type="application/fhir+json")
    assert resp.status_code == 200
    assert resp.get_json()["entry"][0]["resource"]["resourceType"] == "ClaimResponse"


# -- Bundle entries ----------------------------------------------------------------------------

def _padded_pas(n_entries: int) -> dict:
    bundle = load_fixture("pas/thp-her2-positive.json")
    while len(bundle["entry"]) < n_entries:
        i = len(bundle["entry"])
        bundle["entry"].append({"fullUrl": f"urn:uuid:pad-{i}", "resource": {"resourceType": "Basic", "id": f"pad-{i}"}})
    return bundle


def test_a_pas_bundle_over_max_bundle_entries_is_a_413_naming_bundle_entry(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'default.db'}")   # the default: 1000
    client = app.test_client()
    issue = outcome(client.post("/fhir/Claim/$submit", json=_padded_pas(1001)), 413)
    assert issue["expression"] == ["Bundle.entry"]
    assert "1001 entries" in issue["diagnostics"] and "MAX_BUNDLE_ENTRIES" in issue["diagnostics"]
    assert writes(app)["cases"] == 0


def test_a_pas_bundle_at_max_bundle_entries_is_decided(client, app):
    resp = client.post("/fhir/Claim/$submit", json=_padded_pas(40))
    assert resp.status_code == 200, resp.data[:300]
    assert resp.get_json()["entry"][0]["resource"]["resourceType"] == "ClaimResponse"


def test_draft_orders_over_max_bundle_entries_are_a_413(client, app):
    req = load_fixture("hooks/order-sign-thp-her2-positive.json")
    entries = req["context"]["draftOrders"]["entry"]
    template = entries[0]
    for i in range(41):
        extra = copy.deepcopy(template)
        extra["resource"]["id"] = f"extra-{i}"
        entries.append(extra)
    issue = outcome(client.post(SIGN, json=req), 413)
    assert issue["expression"] == ["context.draftOrders.entry"]
    assert writes(app)["cases"] == 0


def test_a_prefetched_bundle_over_max_bundle_entries_is_a_413(client):
    req = load_fixture("hooks/order-sign-thp-her2-positive.json")
    key = next(k for k, v in req["prefetch"].items() if isinstance(v, dict) and v.get("resourceType") == "Bundle")
    req["prefetch"][key]["entry"] = [{"resource": {"resourceType": "Basic", "id": str(i)}} for i in range(41)]
    issue = outcome(client.post(SIGN, json=req), 413)
    assert issue["expression"] == [f"prefetch.{key}.entry"]


# -- outbound FHIR reads ---------------------------------------------------------------------

def test_a_fetched_response_over_fhir_fetch_max_bytes_is_not_read():
    patient = {"resourceType": "Patient", "id": "p", "text": {"div": "x" * 5_000}}
    fetcher = FhirFetcher(EHR, "tok", timeout=1, max_bytes=2_000)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Patient/p", json=patient, auto_calculate_content_length=True)   # declared length
        ehr.get(f"{EHR}/Patient/q", json=patient)                                       # no length: counted
        assert fetcher.fetch("Patient/p").error == "response larger than 2000 bytes (FHIR_FETCH_MAX_BYTES)"
        assert fetcher.fetch("Patient/q").error == "response larger than 2000 bytes (FHIR_FETCH_MAX_BYTES)"
    small = FhirFetcher(EHR, "tok", timeout=1, max_bytes=20_000)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Patient/p", json=patient)
        assert small.fetch("Patient/p").resources == [patient]


def test_a_fetched_response_nested_too_deep_is_an_error_not_a_crash():
    fetcher = FhirFetcher(EHR, "tok", timeout=1)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Patient/p", body='{"resourceType": "Patient", "x": ' + _nested(5_000) + "}")
        assert fetcher.fetch("Patient/p").error == "response nests deeper than MAX_JSON_DEPTH"


def test_a_search_with_more_matches_than_max_bundle_entries_is_truncated():
    page = {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": {"resourceType": "Observation", "id": str(i)}} for i in range(30)]}
    fetcher = FhirFetcher(EHR, "tok", timeout=1, max_entries=25)
    with responses.RequestsMock() as ehr:
        ehr.get(f"{EHR}/Observation", json=page)
        result = fetcher.fetch("Observation?patient=p")
    assert result.ok and result.truncated and len(result.resources) == 25


class _Drip(http.server.BaseHTTPRequestHandler):
    """Answers 200 and then one byte every 0.2 s: each socket read is quick, the whole never ends."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def dripping_ehr():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()
    server.server_close()


def test_fhir_fetch_timeout_bounds_the_whole_read_even_when_the_server_drips_bytes(dripping_ehr):
    fetcher = FhirFetcher(dripping_ehr, "tok", timeout=0.6, policy=OutboundPolicy(["127.0.0.0/8"]))
    started = time.monotonic()
    result = fetcher.fetch("Patient/p")
    assert result.error == "timeout"
    assert time.monotonic() - started < 2.0


def test_a_required_patient_cut_by_the_fetch_timeout_is_a_412_naming_the_timeout(tmp_path, dripping_ehr):
    # the dripping EHR is on loopback: allowed as OUTBOUND_ALLOWED_NETWORKS allows it in a deployment
    app = make_app(f"sqlite:///{tmp_path / 'drip.db'}", FHIR_FETCH_TIMEOUT=0.5,
                   OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"])
    client = app.test_client()
    req = load_fixture("hooks/order-sign-thp-her2-positive.json")
    del req["prefetch"]["patient"]
    req["fhirServer"] = dripping_ehr
    req["fhirAuthorization"] = {"access_token": "tok-123", "token_type": "Bearer", "expires_in": 30,
                                "scope": "user/Patient.read", "subject": "oncopath"}
    started = time.monotonic()
    issue = outcome(client.post(SIGN, json=req), 412)
    assert "timeout" in issue["diagnostics"] and issue["expression"] == ["prefetch.patient"]
    assert time.monotonic() - started < 3.0
    assert writes(app)["cases"] == 0


def test_reviewer_api_bodies_are_held_to_the_same_limits(client, app):
    token = reviewer_token(app)
    issue = outcome(client.post("/review/api/cases/ONC-AAAAAAAAAA/actions/approve", data=_nested(100),
                                content_type="application/json", headers={"Authorization": f"Bearer {token}"}), 413)
    assert "MAX_JSON_DEPTH" in issue["diagnostics"]


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain",
                                          "multipart/form-data; boundary=x"])
@pytest.mark.parametrize("path", [SIGN, FEEDBACK])
def test_the_depth_limit_holds_whatever_content_type_the_hook_body_claims(client, path, content_type):
    # the hook routes read JSON whatever the Content-Type (CDS clients are lax): so does the limit
    issue = outcome(client.post(path, data=_nested(3_000), content_type=content_type), 413)
    assert "MAX_JSON_DEPTH" in issue["diagnostics"]

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
