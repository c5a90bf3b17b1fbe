"""The OpenAPI document at /openapi.json describes every route the app serves, and only those."""
from __future__ import annotations

import re

import pytest

from server.openapi import document

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "options"}


def _rules(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every url_map rule except static files (HEAD is implied by GET)."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD"}:
            out.add((path, method.lower()))
    return out


def _documented(doc: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, ops in doc["paths"].items() for method in ops if method in HTTP_METHODS}


def test_every_route_of_the_app_is_in_the_document_and_every_documented_route_exists(app):
    served, documented = _rules(app), _documented(document())
    assert served - documented == set(), "routes missing from server/openapi/document.py"
    assert documented - served == set(), "documented routes the app does not serve"


def test_the_document_is_served_at_openapi_json_with_the_public_base_url(tmp_path):
    from server.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}",
                      "PUBLIC_BASE_URL": "https://oncopath.example.org/"})
    resp = app.test_client().get("/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": "https://oncopath.example.org"}]
    assert "/fhir/Claim/$submit" in doc["paths"]


def test_every_operation_documents_its_errors_as_operation_outcomes_and_has_an_operation_id():
    doc = document()
    ids = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            for status, response in op["responses"].items():
                if status.startswith("4") and "application/fhir+json" in response.get("content", {}):
                    assert response["content"]["application/fhir+json"]["schema"] == {
                        "$ref": "#/components/schemas/OperationOutcome"}, (path, method, status)
            if method in ("post",) and not path.startswith("/portal/"):
                assert any(s.startswith("4") for s in op["responses"]), (path, method)
    assert len(ids) == len(set(ids)), "operationIds must be unique"


@pytest.mark.parametrize("path, required", [
    ("/fhir/Claim/$submit", ["resourceType"]),
    ("/cds-services/{service_id}", ["hook", "hookInstance", "context"]),
    ("/cds-services/{service_id}/feedback", ["feedback"]),
    ("/review/api/token", ["username", "password"]),
    ("/fhir/Subscription", ["resourceType", "criteria", "channel"]),
])
def test_request_bodies_name_the_keys_each_route_requires(path, required):
    doc = document()
    content = doc["paths"][path]["post"]["requestBody"]["content"]
    ref = next(iter(content.values()))["schema"]["$ref"].rsplit("/", 1)[1]
    assert doc["components"]["schemas"][ref]["required"] == required


def test_the_document_is_a_valid_openapi_3_document_for_schemathesis(app):
    import schemathesis

    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = {(r.ok().path, r.ok().method.lower()) for r in schema.get_all_operations()}
    # schemathesis leaves out the document's own endpoint; everything else is an operation to test.
    assert operations == _documented(document()) - {("/openapi.json", "get")}

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
