"""GET /metrics (Prometheus text): the request histogram counts the requests made, per URL
rule and status; decisions count by case status and pathway match as the answers say; the
endpoint refuses a scrape without the token; under gunicorn the counts are summed over the
workers. Counts are compared before and after (the metrics of one process are shared by every
app a test session builds), and decision statuses are read from the answers, not assumed."""
from __future__ import annotations

from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import workloads
from reliability.harness import load_fixture, make_app
from reliability.service import GunicornService

TOKEN = "metrics-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_CASES = ("pas/thp-her2-positive.json", "pas/trastuzumab-her2-negative.json",
             "pas/mixed-trastuzumab-her2-unknown-letrozole.json", "pas/palbociclib-letrozole-oral.json")


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(snapshot: dict, name: str, **labels) -> float:
    return sum(v for (n, ls), v in snapshot.items() if n == name and set(labels.items()) <= set(ls))


def delta(before: dict, after: dict, name: str, **labels) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


@pytest.fixture()
def app(tmp_path):
    return make_app(f"sqlite:///{tmp_path / 'metrics.db'}", METRICS_TOKEN=TOKEN)


def scrape(client) -> dict:
    resp = client.get("/metrics", headers=AUTH)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(resp.get_data(as_text=True))


def case_status(claim_response_bundle: dict) -> str:
    disposition = claim_response_bundle["entry"][0]["resource"]["disposition"]
    assert disposition.startswith("Case status: ")
    return disposition.removeprefix("Case status: ")


def test_the_request_histogram_counts_each_request_by_url_rule_method_and_status(app):
    client = app.test_client()
    before = scrape(client)
    signs = 3
    for i in range(signs):
        body = workloads.concrete(workloads.order_sign(workloads.ORDER_SIGN_MIXES[i % 3]), f"hist-{i}")
        assert client.post(workloads.SIGN_PATH, json=body).status_code == 200
    for _ in range(2):
        assert client.get("/health").status_code == 200
    seeded = client.post("/fhir/Claim/$submit", json=load_fixture("pas/thp-her2-positive.json")).get_json()
    order_id = seeded["entry"][0]["resource"]["identifier"][0]["value"]
    assert client.get(f"/fhir/ClaimResponse/{order_id}?npi=1234567893").status_code == 200
    assert client.get("/fhir/ClaimResponse/ONC-NOSUCHCASE?npi=1234567893").status_code == 404
    assert client.get("/no/such/path/MA-100200300").status_code == 404
    assert client.post("/fhir/Claim/$submit", data=b"{", content_type="application/json").status_code == 400
    after = scrape(client)

    count = "oncopath_http_request_duration_seconds_count"
    assert delta(before, after, count, route="/cds-services/<service_id>", method="POST", status="200") == signs
    assert delta(before, after, count, route="/health", method="GET", status="200") == 2
    assert delta(before, after, count, route="/fhir/Claim/$submit", status="200") == 1
    assert delta(before, after, count, route="/fhir/Claim/$submit", status="400") == 1
    assert delta(before, after, count, route="/fhir/ClaimResponse/<order_id>", status="200") == 1
    assert delta(before, after, count, route="/fhir/ClaimResponse/<order_id>", status="404") == 1
    assert delta(before, after, count, route="<unmatched>", status="404") == 1
    assert delta(before, after, count) == signs + 2 + 5               # /metrics itself is not counted
    rendered = "\n".join(str(k) for k in after)
    assert order_id not in rendered and "MA-100200300" not in rendered   # routes are rules, not paths
    # every bucket series ends in +Inf equal to the count
    assert delta(before, after, "oncopath_http_request_duration_seconds_bucket", route="/health", le="+Inf") == 2


def test_decisions_count_by_case_status_and_pathway_match_as_the_answers_say(app):
    client = app.test_client()
    before = scrape(client)
    statuses = Counter()
    for name in NEW_CASES:
        statuses[case_status(client.post("/fhir/Claim/$submit", json=load_fixture(name)).get_json())] += 1
    # the same Claim again is answered from file: no new decision
    assert client.post("/fhir/Claim/$submit", json=load_fixture(NEW_CASES[0])).status_code == 200
    signs = 2
    for i in range(signs):
        body = workloads.concrete(workloads.order_sign("on-pathway"), f"dec-{i}")
        assert client.post(workloads.SIGN_PATH, json=body).status_code == 200
    after = scrape(client)

    for status, n in statuses.items():
        assert delta(before, after, "oncopath_decisions_total", door="pas", status=status) == n
    assert delta(before, after, "oncopath_decisions_total", door="pas") == len(NEW_CASES)
    assert delta(before, after, "oncopath_decisions_total", door="cds") == signs
    by_pathway = sum(delta(before, after, "oncopath_decisions_total", pathway=p) for p in ("on", "off", "none"))
    assert by_pathway == len(NEW_CASES) + signs
    pended = statuses.get("In Progress", 0)
    if pended:   # each pended decision gives at least one reason code
        assert delta(before, after, "oncopath_pend_reasons_total") >= pended
    assert total(after, "oncopath_pended_cases") >= pended      # plus any pended sign (not assumed)
    assert total(after, "oncopath_store_up") == 1
    assert delta(before, after, "oncopath_db_duration_seconds_count", operation="commit") >= len(NEW_CASES) + signs
    assert delta(before, after, "oncopath_db_duration_seconds_count", operation="insert") >= 3 * (len(NEW_CASES) + signs)


def test_the_queue_gauges_count_pended_and_overdue_cases_from_the_store(app):
    from datetime import timedelta

    from server import metrics

    client = app.test_client()
    store = app.extensions["oncopath.store"]
    statuses = [case_status(client.post("/fhir/Claim/$submit", json=load_fixture(n)).get_json()) for n in NEW_CASES]
    pended = statuses.count("In Progress")
    now = app.extensions["oncopath.clock"]
    snapshot = samples(metrics.exposition(metrics.StoreGauges(lambda: store.engine, now=now)).decode())
    assert snapshot[("oncopath_pended_cases", ())] == pended
    assert snapshot[("oncopath_overdue_pended_cases", ())] == 0
    far = metrics.StoreGauges(lambda: store.engine,
                              now=lambda: now() + timedelta(days=400))
    late = samples(metrics.exposition(far).decode())
    assert late[("oncopath_overdue_pended_cases", ())] == pended


def test_metrics_refuse_a_scrape_without_the_token_and_are_absent_without_one_configured(app, tmp_path):
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    refused = client.get("/metrics")
    assert "oncopath_" not in refused.get_data(as_text=True)
    plain = make_app(f"sqlite:///{tmp_path / 'no-token.db'}").test_client()
    assert plain.get("/metrics").status_code == 404
    assert plain.get("/metrics", headers=AUTH).status_code == 404


def test_fetch_failures_are_counted_by_class_never_by_their_text():
    from server import metrics

    assert metrics.fetch_failure_class("HTTP 401") == "http-401"
    assert metrics.fetch_failure_class("timeout") == "timeout"
    assert metrics.fetch_failure_class("connection error (ConnectionError)") == "connection"
    assert metrics.fetch_failure_class("response larger than 5242880 bytes (FHIR_FETCH_MAX_BYTES)") == "too-large"
    assert metrics.fetch_failure_class("anything else, Rivera") == "other"


def test_under_gunicorn_the_counts_are_summed_over_workers_and_the_metrics_port_needs_no_token(tmp_path):
    from reliability.service import free_port

    metrics_port = free_port()
    service = GunicornService(f"sqlite:///{tmp_path / 'gunicorn.db'}", tmp_path / "gunicorn.log", workers=2,
                              env={"ONCOPATH_METRICS_TOKEN": TOKEN, "ONCOPATH_METRICS_PORT": str(metrics_port)}).start()
    try:
        s = requests.Session()
        made = 12
        for i in range(made):
            body = workloads.concrete(workloads.pas_submit(), f"g{i}")
            assert s.post(service.base + workloads.SUBMIT_PATH, json=body, timeout=30).status_code == 200
        assert s.get(service.base + "/metrics", timeout=10).status_code == 401
        for _ in range(4):   # whichever worker answers, the sum is the same
            resp = s.get(service.base + "/metrics", headers=AUTH, timeout=10)
            snapshot = samples(resp.text)
            assert total(snapshot, "oncopath_http_request_duration_seconds_count", route="/fhir/Claim/$submit") == made
            assert total(snapshot, "oncopath_decisions_total", door="pas") == made
        separate = samples(requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text)
        assert total(separate, "oncopath_http_request_duration_seconds_count", route="/fhir/Claim/$submit") == made
        assert total(separate, "oncopath_store_up") == 1
    finally:
        service.stop()
    assert "Traceback" not in (tmp_path / "gunicorn.log").read_text()


pytestmark = pytest.mark.e2e
