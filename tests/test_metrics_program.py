"""CMS-0057-F metrics on a known set of cases."""
from __future__ import annotations

from test_review_api import (act, api, claim_response, load_fixture, review_app, submit,  # noqa: F401
                             thp_her2_unknown, token, urgent)


def test_metrics_count_approvals_denials_reconsiderations_and_decision_times(api):
    client, clock, nurse, doctor = api
    immediate = claim_response(submit(client, load_fixture("thp-her2-positive")))     # authorized at once
    a = claim_response(submit(client, thp_her2_unknown("m-a")))["id"]
    b = claim_response(submit(client, thp_her2_unknown("m-b")))["id"]
    c = claim_response(submit(client, urgent(thp_her2_unknown("m-c"))))["id"]
    claim_response(submit(client, thp_her2_unknown("m-d")))                            # stays pended
    assert immediate["disposition"] == "Case status: Authorized"
    clock.advance(hours=2)
    act(client, nurse, a, "approve")                                                   # 2 h
    clock.advance(hours=2)
    act(client, nurse, b, "peer-to-peer-offered")
    act(client, doctor, b, "deny", reason="HER2 negative on central testing")          # 4 h
    act(client, doctor, c, "peer-to-peer-offered")
    act(client, doctor, c, "deny", reason="HER2 negative on central testing")          # urgent, denied at 4 h
    clock.advance(hours=4)
    nurse, doctor = token(client, "nina"), token(client, "paul")
    act(client, nurse, c, "reconsideration", note="ISH amplified")
    act(client, doctor, c, "approve")                                                  # urgent, approved at 8 h

    report = client.get("/review/api/metrics?from=2026-11-01&to=2026-11-30", headers=nurse).get_json()
    std, exp = report["total"]["standard"], report["total"]["expedited"]
    assert (std["requests"], std["approved"], std["denied"], std["pending"]) == (4, 2, 1, 1)
    assert std["approvedPercent"] == 66.7 and std["deniedPercent"] == 33.3
    assert std["averageDecisionHours"] == 2.0        # (0 + 2 + 4) / 3
    assert std["medianDecisionHours"] == 2.0
    assert (exp["requests"], exp["approved"], exp["approvedAfterAppeal"], exp["denied"]) == (1, 1, 1, 0)
    assert exp["averageDecisionHours"] == 8.0
    assert report["months"][0]["month"] == "2026-11"


def test_metrics_as_csv_have_one_row_per_period_and_type(api):
    client, _clock, nurse, _ = api
    submit(client, thp_her2_unknown("csv"))
    resp = client.get("/review/api/metrics?from=2026-11-01&to=2026-11-30&format=csv", headers=nurse)
    lines = resp.get_data(as_text=True).strip().splitlines()
    assert resp.mimetype == "text/csv"
    assert lines[0].startswith("period,type,requests,approved,denied,approvedAfterAppeal")
    assert lines[1].startswith("2026-11-01..2026-11-30,standard,1,0,0,0,1")
    assert len(lines) == 5     # header + total x2 + one month x2


def test_metrics_need_a_token_and_valid_dates(api):
    client, _clock, nurse, _ = api
    assert client.get("/review/api/metrics").status_code == 401
    assert client.get("/review/api/metrics?from=yesterday", headers=nurse).status_code == 400
    assert client.get("/review/api/metrics?from=2026-12-01&to=2026-11-01", headers=nurse).status_code == 400

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
