"""No PHI in logs: patient names, birth dates and member ids from the fixtures never appear in
what the service logs at INFO — neither the application's records (caplog, root at INFO, a
representative set of requests: hooks, PAS submit/inquire, review actions, errors, an unhandled
exception whose text carries PHI) nor gunicorn's output (access log in the format of
server/cli.py, and the app's records) of a real `oncopath serve`."""
from __future__ import annotations

import json
import logging
import re

import pytest
import requests
import responses

from reliability.harness import FIXTURES, load_fixture, make_app, reviewer_token
from reliability.service import GunicornService
from server.review.accounts import hash_password


def _phi_values() -> set[str]:
    """Names, birth dates and member ids of every Patient/Coverage in the request fixtures."""
    values: set[str] = set()
    for path in list((FIXTURES / "pas").glob("*.json")) + list((FIXTURES / "hooks").glob("*.json")):
        text = path.read_text()

        def walk(node):
            if isinstance(node, dict):
                if node.get("resourceType") == "Patient":
                    for name in node.get("name") or []:
                        values.update([name.get("family") or ""] + list(name.get("given") or []))
                    values.add(node.get("birthDate") or "")
                    values.update(i.get("value") or "" for i in node.get("identifier") or [])
                if node.get("resourceType") == "Coverage":
                    values.add(node.get("subscriberId") or "")
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(json.loads(text))
    return {v for v in values if len(v) >= 3}


PHI = _phi_values()


def phi_found(text: str) -> list[str]:
    return sorted(v for v in PHI if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text))


def test_the_fixtures_do_carry_phi_to_look_for():
    assert {"Rivera", "1957-03-14", "MA-100200300"} <= PHI


def _representative_requests(app) -> None:
    client = app.test_client()
    sign = load_fixture("hooks/order-sign-thp-her2-positive.json")
    assert client.post("/cds-services/oncopath-order-sign", json=sign).status_code == 200
    assert client.post("/cds-services/oncopath-order-select",
                       json=load_fixture("hooks/order-select-thp-her2-positive.json")).status_code == 200
    # a required read from the EHR that fails: logged (key and reason only)
    missing = load_fixture("hooks/order-sign-thp-her2-positive.json")
    del missing["prefetch"]["patient"]
    missing.update(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={"access_token": "t"})
    with responses.RequestsMock() as ehr:
        ehr.get(re.compile(r"https://ehr\.example\.org/fhir/.*"), status=401)
        assert client.post("/cds-services/oncopath-order-sign", json=missing).status_code == 412
    assert client.post("/cds-services/oncopath-order-sign/feedback", json={"feedback": [
        {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}]}).status_code == 200

    thp = load_fixture("pas/thp-her2-positive.json")
    approved = client.post("/fhir/Claim/$submit", json=thp).get_json()["entry"][0]["resource"]
    assert client.post("/fhir/Claim/$submit", json=thp).status_code == 200        # resubmission
    pended = client.post("/fhir/Claim/$submit", json=load_fixture("pas/trastuzumab-her2-negative.json"))
    pended_id = pended.get_json()["entry"][0]["resource"]["identifier"][0]["value"]
    assert client.post("/fhir/Claim/$inquire", json=load_fixture("pas/inquiry-riverside.json")).status_code == 200
    order_id = approved["identifier"][0]["value"]
    assert client.get(f"/orders/{order_id}/summary?npi=1234567893").status_code == 200
    assert client.get(f"/fhir/ClaimResponse/{order_id}?npi=1234567893").status_code == 200

    token = reviewer_token(app)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/review/api/queue", headers=auth).status_code == 200
    assert client.get(f"/review/api/cases/{pended_id}", headers=auth).status_code == 200
    assert client.post(f"/review/api/cases/{pended_id}/actions/request-information",
                       json={"information": "HER2 ISH report for Rivera"}, headers=auth).status_code == 200
    assert client.post(f"/review/api/cases/{pended_id}/actions/approve", json={}, headers=auth).status_code == 200
    app.extensions["oncopath.review"].reviews.add_reviewer("nurse-phi", "nurse", hash_password("nurse-pw-123456"),
                                                          now=app.extensions["oncopath.clock"]())
    nurse = client.post("/review/api/token", json={"username": "nurse-phi", "password": "nurse-pw-123456"})
    assert client.post(f"/review/api/cases/{pended_id}/actions/deny", json={"reason": "x"},
                       headers={"Authorization": f"Bearer {nurse.get_json()['access_token']}"}).status_code == 403

    # errors: each a 4xx whose diagnostics may quote the input; the logs must not
    broken = load_fixture("pas/thp-her2-positive.json")
    broken["entry"][0]["resource"]["identifier"] = [{"value": "MA-100200300 Rivera 1957-03-14"}]
    broken["entry"][0]["resource"]["status"] = "Rivera"
    assert client.post("/fhir/Claim/$submit", json=broken).status_code in (400, 422)
    assert client.post("/fhir/Claim/$submit", data=b'{"Rivera": 1957-03-14', content_type="application/json").status_code == 400
    assert client.post("/cds-services/oncopath-order-sign", json={"hook": "Rivera"}).status_code == 400
    assert client.post("/fhir/Claim/$submit", data="[" * 100 + "]" * 100, content_type="application/json").status_code == 413


def test_no_patient_name_birth_date_or_member_id_is_logged_at_info(tmp_path, caplog, monkeypatch):
    app = make_app(f"sqlite:///{tmp_path / 'phi.db'}")
    caplog.set_level(logging.INFO)
    _representative_requests(app)

    # an unhandled exception whose message carries PHI: logged as its type only
    import mappings.pas_request as pas_request

    def boom(bundle, received_at, **_):
        raise ValueError("member MA-100200300 Ana Rivera born 1957-03-14")

    monkeypatch.setattr(pas_request, "order_from_pas_bundle", boom)
    other = load_fixture("pas/mixed-trastuzumab-her2-unknown-letrozole.json")
    resp = app.test_client().post("/fhir/Claim/$submit", json=other)
    assert resp.status_code == 500 and resp.get_json()["resourceType"] == "OperationOutcome"

    assert any("PAS case ONC-" in r.getMessage() for r in caplog.records), "the INFO records were captured"
    assert any("unhandled ValueError" in r.getMessage() for r in caplog.records)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert phi_found(logged) == []


def test_no_phi_in_gunicorns_access_log_or_the_apps_records_under_oncopath_serve(tmp_path):
    log = tmp_path / "gunicorn.log"
    service = GunicornService(f"sqlite:///{tmp_path / 'serve.db'}", log, workers=1).start()
    try:
        s = requests.Session()
        thp = load_fixture("pas/thp-her2-positive.json")
        r = s.post(service.base + "/fhir/Claim/$submit", json=thp, timeout=30)
        assert r.status_code == 200
        order_id = r.json()["entry"][0]["resource"]["identifier"][0]["value"]
        assert s.post(service.base + "/fhir/Claim/$inquire", json=load_fixture("pas/inquiry-riverside.json"),
                      timeout=30).status_code == 200
        assert s.post(service.base + "/cds-services/oncopath-order-sign",
                      json=load_fixture("hooks/order-sign-thp-her2-positive.json"), timeout=30).status_code == 200
        # a client that puts PHI in a query string: the access log keeps the path only
        assert s.get(f"{service.base}/orders/{order_id}/summary",
                     params={"npi": "1234567893", "member": "MA-100200300", "name": "Rivera"}, timeout=30).status_code == 200
        assert s.post(service.base + "/fhir/Claim/$submit", data=b'{"name": "Rivera", ', timeout=30).status_code == 400
    finally:
        service.stop()
    text = log.read_text()
    assert '"POST /fhir/Claim/$submit" 200' in text and f'"GET /orders/{order_id}/summary" 200' in text
    assert "PAS case ONC-" in text or "Booting worker" in text
    assert phi_found(text) == []


def test_with_json_logs_every_line_is_a_json_object_without_phi_and_access_records_name_the_route(tmp_path):
    """ONCOPATH_LOG_FORMAT=json: gunicorn's access and error logs and the app's INFO records are
    JSON lines; the same PHI-bearing requests as above leave no PHI in them."""
    log = tmp_path / "gunicorn-json.log"
    service = GunicornService(f"sqlite:///{tmp_path / 'json.db'}", log, workers=1,
                              env={"ONCOPATH_LOG_FORMAT": "json"}).start()
    try:
        s = requests.Session()
        r = s.post(service.base + "/fhir/Claim/$submit", json=load_fixture("pas/thp-her2-positive.json"), timeout=30)
        order_id = r.json()["entry"][0]["resource"]["identifier"][0]["value"]
        assert s.get(f"{service.base}/orders/{order_id}/summary",
                     params={"npi": "1234567893", "member": "MA-100200300", "name": "Rivera"}, timeout=30).status_code == 200
        assert s.post(service.base + "/fhir/Claim/$submit", data=b'{"name": "Rivera", ', timeout=30).status_code == 400
        assert s.post(service.base + "/cds-services/oncopath-order-sign",
                      json=load_fixture("hooks/order-sign-thp-her2-positive.json"), timeout=30).status_code == 200
    finally:
        service.stop()
    text = log.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line[:200]!r}")
    access = [r for r in records if r.get("type") == "access"]
    assert {(r["method"], r["route"], r["status"]) for r in access} >= {
        ("POST", "/fhir/Claim/$submit", 200), ("POST", "/fhir/Claim/$submit", 400),
        ("GET", "/orders/<order_id>/summary", 200), ("POST", "/cds-services/<service_id>", 200)}
    assert all("?" not in r["path"] and isinstance(r["duration_ms"], float) for r in access)
    assert any(r.get("logger") == "server.cases.service" and order_id in r["message"] for r in records), \
        "the app's INFO records are logged too"
    assert not [r for r in records if str(r.get("logger", "")).startswith("sqlalchemy")]
    assert phi_found(text) == []


def test_a_json_log_record_of_an_exception_names_its_type_only():
    from server.logs import JsonFormatter

    try:
        raise ValueError("member MA-100200300 Ana Rivera born 1957-03-14")
    except ValueError:
        import sys
        record = logging.LogRecord("server.x", logging.ERROR, __file__, 1, "unhandled %s", ("ValueError",),
                                   sys.exc_info())
    out = json.loads(JsonFormatter().format(record))
    assert out["message"] == "unhandled ValueError" and out["exception"] == "ValueError" and out["level"] == "ERROR"
    assert phi_found(json.dumps(out)) == []


@pytest.mark.parametrize("logger_name", ["sqlalchemy.engine", "sqlalchemy.engine.Engine"])
def test_sql_statements_and_their_parameters_are_not_logged_at_info(tmp_path, caplog, logger_name):
    """SQLAlchemy logs every statement with its parameters (member ids) at INFO if its logger
    inherits INFO from the root: the app keeps it at WARNING unless configured otherwise."""
    caplog.set_level(logging.INFO)
    app = make_app(f"sqlite:///{tmp_path / 'sql.db'}")
    app.test_client().post("/fhir/Claim/$submit", json=load_fixture("pas/thp-her2-positive.json"))
    assert not [r for r in caplog.records if r.name.startswith("sqlalchemy")]
    assert phi_found("\n".join(r.getMessage() for r in caplog.records)) == []

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
