from server.app import create_app


def test_health_reports_ok_and_the_knowledge_base_version():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    body = app.test_client().get("/health").get_json()
    assert body["status"] == "ok"
    assert body["knowledgeBaseVersion"] == app.extensions["oncopath.knowledge"].version


def test_unknown_route_answers_with_an_operation_outcome_not_html():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    resp = app.test_client().get("/no-such-route")
    assert resp.status_code == 404
    assert resp.mimetype == "application/fhir+json"
    assert resp.get_json()["resourceType"] == "OperationOutcome"
    assert resp.get_json()["issue"][0]["code"] == "not-found"

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
