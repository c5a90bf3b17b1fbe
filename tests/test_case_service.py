"""Service-layer tests of the case service on a fake store and the hand-built knowledge base:
what a request does to the cases on file, with no database and no HTTP."""
from __future__ import annotations

from dataclasses import replace

import pytest

from fakes import FakeCaseStore
from kbfakes import fake_knowledge, her2, order, thp
from mappings.pas_request import PasSubmission
from server.cases import CaseService, KnowledgeUnavailable
from server.domain.decision import CaseStatus, DrugStatus
from server.errors import Unprocessable

NPI = "1234567893"


def render(decision, order_id, revision):
    return {"orderId": order_id, "revision": revision, "status": decision.case_status.value,
            "drugs": {d.ref: d.status.value for d in decision.drugs}}


def submission(the_order, key="pas|urn:x|1", *, npi=NPI, related=None, cancelled=(), content="a") -> PasSubmission:
    refs = frozenset(d.ref for d in the_order.drugs)
    req = PasSubmission(bundle={"resourceType": "Bundle", "content": content, "timestamp": "t"},
                        received_at=the_order.received_at, request_key=key, submitter_npis=(npi,),
                        submitter_ids=frozenset({npi}), related_key=related, item_refs=refs | frozenset(cancelled),
                        cancelled_refs=frozenset(cancelled))
    req.__dict__["order"] = the_order          # the mapped Order (a cached property)
    return req


@pytest.fixture
def service():
    return CaseService(FakeCaseStore(), fake_knowledge())


def test_a_new_submission_is_decided_and_stored_with_the_answer_it_was_given(service):
    answer = service.submit(submission(order(*thp(), biomarkers=[her2()])), render=render)
    assert answer["status"] == CaseStatus.AUTHORIZED.value
    stored = service.store.cases[answer["orderId"]]
    assert stored.response == answer and stored.status == CaseStatus.AUTHORIZED.value


def test_the_same_submission_again_gets_the_first_answer_and_no_second_case(service):
    first = service.submit(submission(order(*thp(), biomarkers=[her2()])), render=render)
    again = service.submit(submission(order(*thp(), biomarkers=[her2()])), render=render)
    assert again == first and len(service.store.cases) == 1


def test_a_different_submission_reusing_the_identifier_is_a_case_of_its_own(service):
    first = service.submit(submission(order(*thp(), biomarkers=[her2()])), render=render)
    other = service.submit(submission(order(*thp(), biomarkers=[her2("negative")]), content="b"), render=render)
    assert other["orderId"] != first["orderId"]
    assert other["status"] == CaseStatus.IN_PROGRESS.value
    assert "identifier reused" in service.store.events[other["orderId"]][0].note


def test_an_update_naming_the_earlier_claim_decides_the_whole_case_again_under_its_order_id(service):
    first = service.submit(submission(order(*thp(), biomarkers=[her2("negative")])), render=render)
    assert first["status"] == CaseStatus.IN_PROGRESS.value
    update = service.submit(submission(order(*thp(), biomarkers=[her2()]), key="pas|urn:x|2",
                                       related="pas|urn:x|1", content="update"), render=render)
    assert update["orderId"] == first["orderId"] and update["revision"] == 2
    assert update["status"] == CaseStatus.AUTHORIZED.value


def test_cancelling_every_item_makes_the_case_review_cancelled_with_each_drug_voluntarily_cancelled(service):
    the_order = order(*thp(), biomarkers=[her2()])
    first = service.submit(submission(the_order), render=render)
    refs = [d.ref for d in the_order.drugs]
    cancel = service.submit(submission(replace(the_order, drugs=()), key="pas|urn:x|3", related="pas|urn:x|1",
                                       cancelled=refs, content="cancel"), render=render)
    assert cancel["orderId"] == first["orderId"]
    assert cancel["status"] == CaseStatus.REVIEW_CANCELLED.value
    assert set(cancel["drugs"].values()) == {DrugStatus.VOLUNTARILY_CANCELLED.value}


def test_another_provider_cannot_update_a_case(service):
    service.submit(submission(order(*thp(), biomarkers=[her2()])), render=render)
    with pytest.raises(Unprocessable) as err:
        service.submit(submission(order(*thp(), biomarkers=[her2()]), key="pas|urn:x|4", npi="1679576722",
                                  related="pas|urn:x|1", content="update"), render=render)
    assert err.value.issues[0].expression == ["Bundle.entry[0].resource.related"]
    assert err.value.audit


def test_order_select_advice_stores_nothing(service):
    decision = service.advise(order(*thp(), biomarkers=[her2()]))
    assert decision.case_status is CaseStatus.AUTHORIZED
    assert service.store.cases == {}


def test_without_a_knowledge_base_every_use_case_is_unavailable():
    service = CaseService(FakeCaseStore(), None)
    with pytest.raises(KnowledgeUnavailable):
        service.advise(order(*thp()))
    with pytest.raises(KnowledgeUnavailable):
        service.submit(submission(order(*thp())), render=render)

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
