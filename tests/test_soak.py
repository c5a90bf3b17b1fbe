"""A short soak in CI (~20 s): order-sign, Claim/$submit and Claim/$inquire mixed against
gunicorn on loopback at a steady rate. No errors, every operation served, memory flat.
`python -m reliability.soak --minutes 10` is the long version (figures in README)."""
from __future__ import annotations

from reliability.soak import soak

RSS_GROWTH_LIMIT_MB = 64


def test_a_mixed_load_under_gunicorn_has_no_errors_and_bounded_memory_growth(tmp_path):
    report = soak(f"sqlite:///{tmp_path / 'soak.db'}", tmp_path, seconds=18, rate=30, clients=3,
                  max_requests=2_000, warmup_seconds=2)
    print("\n".join(report.lines()))
    assert report.errors == 0, report.error_examples
    assert all(v["requests"] >= 50 for v in report.by_op.values()), report.by_op
    assert report.requests <= 2_000 and report.seconds < 40
    assert report.rss_start_mb > 0
    assert report.rss_growth_mb < RSS_GROWTH_LIMIT_MB, report.lines()
    assert report.last_p99_ms < 2_000, report.lines()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
