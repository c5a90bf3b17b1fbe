"""POST /cds-services/{id}/feedback: what the clinician did with our cards."""
from __future__ import annotations

import json

import pytest

from server.app import create_app

FEEDBACK = "/cds-services/oncopath-order-sign/feedback"


@pytest.fixture
def app(tmp_path):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'fb.db'}", "CDS_JWT_REQUIRED": False})


def test_the_spec_feedback_example_is_stored_and_answered_with_an_empty_object(app, examples_dir):
    body = json.loads((examples_dir / "cds-hooks-spec" / "spec-23_feedback.json").read_text())
    resp = app.test_client().post(FEEDBACK, json=body)
    assert resp.status_code == 200 and resp.get_json() == {}
    [stored] = app.extensions["oncopath.store"].feedback_for("oncopath-order-sign")
    assert stored["card"] == "4e0a3a1e-3283-4575-ab82-028d55fe2719"
    assert stored["outcome"] == "accepted"
    assert stored["acceptedSuggestions"] == ["e56e1945-20b3-4393-8503-a1a20fd73152"]


def test_an_override_with_its_reason_is_stored(app):
    body = {"feedback": [{"card": "card-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T08:05:31Z",
                          "overrideReason": {"reason": {"system": "urn:oncopath:override-reason",
                                                        "code": "clinical-trial", "display": "On a trial"},
                                             "userComment": "NCT02465060"}}]}
    assert app.test_client().post(FEEDBACK, json=body).status_code == 200
    [stored] = app.extensions["oncopath.store"].feedback_for("oncopath-order-sign")
    assert stored["overrideReason"]["reason"]["code"] == "clinical-trial"


@pytest.mark.parametrize("body, expression", [
    ({}, "feedback"),
    ({"feedback": []}, "feedback"),
    ({"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2026-11-22T08:00:00Z",
                    "acceptedSuggestions": [{"id": "s"}]}]}, "feedback[0].card"),
    ({"feedback": [{"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-22T08:00:00Z"}]},
     "feedback[0].outcome"),
    ({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-22T08:00:00Z"}]},
     "feedback[0].acceptedSuggestions"),
    ({"feedback": [{"card": "c", "outcome": "overridden"}]}, "feedback[0].outcomeTimestamp"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]},
     "feedback[0].outcomeTimestamp"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T08:00:00"}]},
     "feedback[0].outcomeTimestamp"),
], ids=["no-feedback", "empty", "no-card", "bad-outcome", "accepted-without-suggestions", "no-timestamp",
        "bad-timestamp", "timestamp-without-zone"])
def test_malformed_feedback_is_a_400_and_nothing_is_stored(app, body, expression):
    resp = app.test_client().post(FEEDBACK, json=body)
    assert resp.status_code == 400
    assert resp.get_json()["issue"][0]["expression"] == [expression]
    assert app.extensions["oncopath.store"].feedback_for("oncopath-order-sign") == []


def test_feedback_for_an_unknown_service_is_a_404(app):
    body = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T08:00:00Z"}]}
    assert app.test_client().post("/cds-services/nope/feedback", json=body).status_code == 404

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
