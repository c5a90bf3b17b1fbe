"""Smoke tests of the benchmark harness' pieces (benchmarks/): no timing is asserted here."""
from __future__ import annotations

import json

from benchmarks import run, scaling, synthetic_kb, workloads
from benchmarks.floor_app import create_floor_app
from server import engine
from server.domain.decision import CaseStatus
from server.domain.order import History
from server.knowledge.loader import load_knowledge


def test_the_synthetic_knowledge_base_is_ten_times_larger_and_still_decides_the_real_order_the_same():
    base = load_knowledge()
    grown = synthetic_kb.multiply(base, 10)
    assert synthetic_kb.size(grown)["regimens"] == 10 * synthetic_kb.size(base)["regimens"]
    assert synthetic_kb.size(grown)["cancer_types"] == 10 * len(base.cancer_types)
    # Copies are indexed under their own names and codes and never shadow a real drug or regimen.
    assert "oxaliplatin~s3" in grown.drugs and grown.drugs["oxaliplatin~s3"].rxnorm[0].endswith("~s3")
    assert any(key[0] == "colorectal~s9" for key in grown.regimens_by_drugset)
    order = scaling.map_order(workloads.concrete(workloads.order_sign("on-pathway"), "kb-test"))
    real, big = engine.decide(order, base, History.empty()), engine.decide(order, grown, History.empty())
    assert real.case_status is CaseStatus.AUTHORIZED
    assert big.case_status is real.case_status
    assert big.pathway.regimen_id == real.pathway.regimen_id


def test_order_sign_workload_has_six_drafts_thirty_prefetch_resources_and_a_unique_placeholder():
    template = workloads.order_sign("pended")
    assert len(template["context"]["draftOrders"]["entry"]) == 6
    assert workloads.prefetch_count(template) == 30
    text = json.dumps(template)
    assert text.count(workloads.UNIQ) == 2          # hookInstance and the member's subscriberId
    concrete = workloads.concrete(template, "r1-1-7")
    assert concrete["hookInstance"] == "r1-1-7"
    assert workloads.UNIQ not in json.dumps(concrete)


def test_the_submit_workload_makes_claim_bundle_and_member_identifiers_unique():
    bundle = workloads.concrete(workloads.pas_submit(), "abc")
    claim = bundle["entry"][0]["resource"]
    assert claim["identifier"][0]["value"] == "C-abc"
    assert bundle["identifier"]["value"] == "T-abc"
    assert "MA-abc" in json.dumps(bundle) and "MA-100200300" not in json.dumps(bundle)


def test_the_case_mix_has_one_order_sign_of_each_kind_each_unique_per_request():
    mix = workloads.case_mix()
    assert [kind for kind, _ in mix] == list(workloads.CASE_MIX)
    for kind, template in mix:
        assert template["hook"] == "order-sign" and template["context"]["draftOrders"]["entry"]
        a, b = workloads.concrete(template, "a"), workloads.concrete(template, "b")
        assert a["hookInstance"] != b["hookInstance"]
        assert json.dumps(a["prefetch"]["coverage"]) != json.dumps(b["prefetch"]["coverage"]), kind   # member


def test_the_floor_route_parses_the_body_and_answers_a_fixed_minimal_response(tmp_path):
    app = create_floor_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/floor.db"})
    client = app.test_client()
    ok = client.post("/__floor", data=workloads.body_bytes(workloads.floor_body()), content_type="application/json")
    assert ok.get_json() == {"cards": [], "systemActions": []}
    bad = client.post("/__floor", data=b"{not json", content_type="application/json")
    assert bad.status_code == 400
    assert bad.get_json()["resourceType"] == "OperationOutcome"


def test_the_product_app_has_no_floor_route(tmp_path):
    from server.app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    assert app.test_client().post("/__floor", json={}).status_code == 404


def test_wrk_results_become_requests_per_second_latency_in_ms_and_an_error_total(tmp_path):
    out = tmp_path / "wrk.json"
    out.write_text(json.dumps({
        "requests": 1200, "duration_us": 3_000_000, "bytes": 10,
        "errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 0},
        "latency_us": {"min": 900, "mean": 4100.5, "p50": 4000, "p90": 6000, "p95": 7000, "p99": 12500,
                       "max": 30000}}))
    r = run.load_wrk_result(out)
    assert r["rps"] == 400.0
    assert (r["p50_ms"], r["p95_ms"], r["p99_ms"]) == (4.0, 7.0, 12.5)
    assert r["errors"] == 3 and r["error_detail"]["status"] == 2


def test_targets_are_judged_per_database_and_a_miss_is_reported_not_hidden():
    wl = {"rps": 100.0, "p99_ms": 120.0, "floor_ratio": 0.2, "errors": 0, "server_cpu_ms_per_request": 8.0}
    result = {"databases": [{"database": "postgresql", "peak_rss_mb": [120.0, 130.0],
                             "workloads": {"order-sign": wl, "submit": {**wl, "p99_ms": 80.0},
                                           "case-mix": {**wl, "errors": 2}}}],
              "scaling": {"kb_size": [{"factor": 1, "ratio_to_1x": 1.0}, {"factor": 100, "ratio_to_1x": 1.2}]}}
    verdict = {c["target"]: c["met"] for c in run.evaluate(result)}
    assert verdict["order-sign p99 <= 100 ms (postgresql)"] is False
    assert verdict["order-sign >= 25% of floor (postgresql)"] is False
    assert verdict["server CPU per order-sign <= 4.5 ms (postgresql)"] is False
    assert verdict["0 errors in every workload (postgresql)"] is False
    assert verdict["Claim/$submit p99 <= 100 ms, 0 errors (postgresql)"] is True
    assert verdict["peak RSS per worker <= 150 MB (postgresql)"] is True
    assert verdict["decide at 100x KB <= 1.5x of 1x"] is True


def test_the_scaling_curve_times_decisions_on_each_knowledge_base_size():
    rows = scaling.kb_curve(factors=(1, 2), n=3)
    assert [r["factor"] for r in rows] == [1, 2]
    assert rows[1]["regimens"] == 2 * rows[0]["regimens"]
    assert rows[0]["statuses"] == rows[1]["statuses"]
    assert rows[0]["statuses"]["on-pathway"] == "Authorized"
    assert rows[0]["median_us"] > 0 and rows[0]["ratio_to_1x"] == 1.0


def test_the_live_profile_counts_only_request_stacks_and_splits_them_into_phases():
    from benchmarks.profile_live import summarize
    request = "SyncWorker.handle_request (gunicorn/workers/sync.py:176);call (server/http/hooks.py:79);" \
              "handle_call (server/hooks/services.py:52)"
    collapsed = "\n".join([
        f"{request};order_from_resources (mappings/order.py:256);parse (mappings/fhir.py:67) 30",
        f"{request};save_case (server/store/service.py:262);_commit_impl (sqlalchemy/engine/base.py:1188) 10",
        "Thread.run (threading.py:982);NotificationWorker._run (server/notify/delivery.py:102) 50",
    ])
    total, phases, packages = summarize(collapsed)
    shares = dict(phases)
    assert total == 40                                   # the notification thread is not a request
    assert shares["handle (everything below)"] == 1.0
    assert shares["  map FHIR -> Order"] == 0.75
    assert shares["    structure validation"] == 0.75   # native validation time lands on parse
    assert shares["  store the case"] == 0.25 and shares["    commit"] == 0.25
    assert shares["  decide"] == 0.0
    assert dict(packages) == {"mappings/fhir.py": 0.75, "sqlalchemy/engine": 0.25}

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
