"""Property tests on the two doors and their mappings, with hypothesis: the fixture PAS Bundles
and CDS Hooks requests (structurally valid FHIR) with one to three parts broken — random JSON,
wrong types, deep nesting, huge strings, odd unicode, removed keys, duplicated entries and ids.

Properties: no 5xx; every 4xx is an OperationOutcome (CDS Hooks errors too); a rejected request
writes nothing; a mapping either gives an Order or raises a typed 4xx error. Derandomized and
bounded; `python -m reliability.fuzz --examples N --only bodies` runs more."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings

from reliability import mutations
from reliability.harness import make_app, problems, writes
from server.errors import ServiceError

EXAMPLES = 40
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
RECEIVED = datetime(2026, 11, 22, 14, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    return make_app(f"sqlite:///{tmp_path_factory.mktemp('fuzzmap') / 'f.db'}")


@pytest.mark.parametrize("target", mutations.TARGETS, ids=lambda t: t.name)
def test_a_broken_fhir_body_is_answered_with_a_4xx_operation_outcome_and_nothing_stored(fuzz_app, target):
    client = fuzz_app.test_client()
    seen_statuses = set()

    @SETTINGS
    @given(body=mutations.mutated(mutations.base_body(target)))
    def check(body):
        before = writes(fuzz_app)
        resp = client.post(target.path, json=body, headers={"Content-Type": target.content_type})
        seen_statuses.add(resp.status_code)
        assert problems(resp.status_code, resp.headers.get("Content-Type", ""), resp.data,
                        before, writes(fuzz_app)) == []

    check()
    assert any(400 <= s < 500 for s in seen_statuses), seen_statuses


def test_the_pas_mapping_gives_an_order_or_a_typed_error_for_any_bundle_that_passes_validation():
    from mappings import order_from_pas_bundle
    from mappings import pas_checks
    from mappings.pas_request import operation_bundle

    base = mutations.base_body(mutations.TARGETS[0])

    @SETTINGS
    @given(bundle=mutations.mutated(base))
    def check(bundle):
        try:
            pas_checks.validate_request_bundle(operation_bundle(bundle, 1000))
        except ServiceError:
            return   # rejected before mapping: the HTTP test covers that answer
        try:
            order = order_from_pas_bundle(bundle, received_at=RECEIVED)
        except ServiceError as err:
            assert 400 <= err.status < 500 and err.issues
        else:
            assert order.drugs is not None

    check()


def test_the_cds_mapping_gives_an_order_or_a_typed_error_for_any_resources():
    from mappings import order_from_resources

    base = mutations.base_body(mutations.TARGETS[2])

    @SETTINGS
    @given(request=mutations.mutated(base))
    def check(request):
        context = request.get("context") if isinstance(request, dict) else None
        drafts = ((context or {}).get("draftOrders") or {}).get("entry") if isinstance(context, dict) else None
        prefetch = request.get("prefetch") if isinstance(request, dict) else None
        if not isinstance(drafts, list) or not isinstance(prefetch, dict):
            return
        draft_orders = [e.get("resource") for e in drafts if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        resources = []
        for value in prefetch.values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle" and isinstance(value.get("entry"), list):
                resources += [e["resource"] for e in value["entry"] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
            elif isinstance(value, dict) and isinstance(value.get("resourceType"), str):
                resources.append(value)
        try:
            order_from_resources(draft_orders, resources, request_id="fuzz", received_at=RECEIVED, patient_id="patient-1")
        except ServiceError as err:
            assert 400 <= err.status < 500 and err.issues

    check()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
