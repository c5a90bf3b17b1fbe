"""Reviewer API end to end through HTTP: auth, queue, every action, audit, PAS re-rendering.

Also the helpers the other review/notify/portal/summary tests import."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.review import accounts
from server.review.deadlines import sweep_overdue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pas"
PAS_EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "examples" / "pas-2.2.1"
PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
REVIEW_ACTION = PAS_SD + "extension-reviewAction"
RECEIVED = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery staple"
SUBMITTER_NPI = "1234567893"        # Claim.provider of the fixtures (Riverside Oncology Clinic)


class Clock:
    def __init__(self, now: datetime = RECEIVED):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def load_example(name: str) -> dict:
    return json.loads((PAS_EXAMPLES / name).read_text())


def thp_her2_unknown(identifier: str = "thp-her2-unknown", fixture: str = "thp-her2-positive") -> dict:
    """THP for HER2-positive metastatic breast cancer with the HER2 result left out: the
    regimen matches its pathway pending HER2, so its managed drugs pend (R3, R5)."""
    bundle = load_fixture(fixture)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") != "onc-her2"]
    claim = bundle["entry"][0]["resource"]
    claim["supportingInfo"] = [i for i in claim["supportingInfo"]
                               if (i.get("valueReference") or {}).get("reference") != "Observation/onc-her2"]
    claim["identifier"][0]["value"] = identifier
    claim.pop("related", None)
    bundle["identifier"]["value"] = f"T-{identifier}"
    return bundle


def urgent(bundle: dict) -> dict:
    bundle = copy.deepcopy(bundle)
    claim = bundle["entry"][0]["resource"]
    claim["priority"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                     "code": "stat"}]}
    return bundle


def claim_response(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def review_code(adjudications: list[dict]) -> str:
    for adj in adjudications:
        for ext in adj.get("extension", []):
            if ext["url"] == REVIEW_ACTION:
                for sub in ext["extension"]:
                    if sub["url"].endswith("reviewActionCode"):
                        return sub["valueCodeableConcept"]["coding"][0]["code"]
    raise AssertionError("no reviewAction")


def actions_of(bundle: dict) -> dict[int, str]:
    return {i["itemSequence"]: review_code(i["adjudication"]) for i in claim_response(bundle)["item"]}


def make_app(tmp_path, **config):
    from server.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'oncopath.db'}", **config})
    clock = Clock()
    app.extensions["oncopath.clock"] = clock
    service = app.extensions["oncopath.review"]
    for name, role in (("nina", "nurse"), ("paul", "physician")):
        service.reviews.add_reviewer(name, role, accounts.hash_password(PASSWORD), now=RECEIVED)
    return app, clock


def submit(client, bundle: dict) -> dict:
    resp = client.post("/fhir/Claim/$submit", data=json.dumps(bundle), content_type="application/fhir+json")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def token(client, username: str) -> dict:
    resp = client.post("/review/api/token", json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def act(client, headers, order_id: str, action: str, **params):
    return client.post(f"/review/api/cases/{order_id}/actions/{action}", headers=headers, json=params)


@pytest.fixture
def review_app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def api(review_app):
    app, clock = review_app
    client = app.test_client()
    return client, clock, token(client, "nina"), token(client, "paul")


@pytest.fixture
def pended(api):
    client, *_ = api
    return claim_response(submit(client, thp_her2_unknown()))["id"]


# ------------------------------------------------------------------------------------ auth

def test_the_api_refuses_a_request_without_a_token_with_a_401_outcome(api):
    client, *_ = api
    resp = client.get("/review/api/queue")
    assert resp.status_code == 401
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"


def test_a_wrong_password_or_unknown_token_gets_no_access(api):
    client, *_ = api
    assert client.post("/review/api/token", json={"username": "paul", "password": "nope"}).status_code == 401
    assert client.get("/review/api/queue", headers={"Authorization": "Bearer made-up"}).status_code == 401


def test_a_token_expires(api, pended):
    client, clock, nurse, _ = api
    assert client.get("/review/api/queue", headers=nurse).status_code == 200
    clock.advance(hours=accounts.TOKEN_TTL_SECONDS // 3600 + 1)
    assert client.get("/review/api/queue", headers=nurse).status_code == 401


def test_tokens_and_passwords_are_stored_hashed(review_app):
    app, _ = review_app
    client = app.test_client()
    issued = client.post("/review/api/token", json={"username": "nina", "password": PASSWORD}).get_json()
    store = app.extensions["oncopath.store"]
    with store.engine.connect() as conn:
        hashes = [r[0] for r in conn.exec_driver_sql("SELECT token_hash FROM reviewer_tokens")]
        pw = [r[0] for r in conn.exec_driver_sql("SELECT password_hash FROM reviewers")]
    assert issued["access_token"] not in hashes and accounts.token_hash(issued["access_token"]) in hashes
    assert all(p.startswith("scrypt$") and PASSWORD not in p for p in pw)


# ------------------------------------------------------------------------------------ queue and case

def test_the_queue_lists_pended_cases_urgent_first_with_their_due_by(api):
    client, _clock, nurse, _ = api
    standard = claim_response(submit(client, thp_her2_unknown("std")))["id"]
    rush = claim_response(submit(client, urgent(thp_her2_unknown("rush"))))["id"]
    cases = client.get("/review/api/queue", headers=nurse).get_json()["cases"]
    assert [c["orderId"] for c in cases] == [rush, standard]
    assert cases[0]["urgency"] == "urgent" and cases[0]["dueBy"] == "2026-11-21T14:00:00+00:00"
    assert cases[1]["dueBy"] == "2026-11-25T14:00:00+00:00"     # 3 business days
    assert cases[1]["pendingDrugs"] == ["trastuzumab", "pertuzumab"] or set(cases[1]["pendingDrugs"]) >= {"trastuzumab"}


def test_reading_the_queue_flags_an_overdue_case_for_a_physician_and_writes_nothing(api, review_app, pended):
    client, clock, nurse, _ = api
    clock.advance(days=6)
    nurse = token(client, "nina")
    store = review_app[0].extensions["oncopath.store"]
    before = (store.counts(), store.audit_trail(pended))
    first = client.get("/review/api/queue", headers=nurse).get_json()["cases"][0]
    client.get("/review/api/queue", headers=nurse)
    assert first["orderId"] == pended and first["overdue"] and first["physicianEscalation"]
    assert first["status"] == "In Progress"
    assert (store.counts(), store.audit_trail(pended)) == before       # a GET writes nothing
    assert review_app[0].extensions["oncopath.review"].reviews.review_actions(pended) == []


def test_the_deadline_sweep_escalates_an_overdue_case_to_a_physician_once_and_never_denies(api, review_app, pended):
    client, clock, _nurse, _ = api
    reviews = review_app[0].extensions["oncopath.review"].reviews
    assert sweep_overdue(reviews, clock()) == []                       # not due yet
    clock.advance(days=6)
    assert sweep_overdue(reviews, clock()) == [pended]
    assert sweep_overdue(reviews, clock()) == []                       # once
    trail = review_app[0].extensions["oncopath.store"].audit_trail(pended)
    assert [(a.actor, a.action) for a in trail].count(("system", "review.escalate")) == 1
    view = client.get(f"/review/api/cases/{pended}", headers=token(client, "paul")).get_json()
    assert view["status"] == "In Progress" and view["review"]["escalated"]
    assert [(a["actor"], a["action"], a["detail"]["to"]) for a in view["actions"]] == [("system", "escalate", "physician")]
    queued = client.get("/review/api/queue", headers=token(client, "nina")).get_json()["cases"][0]
    assert queued["physicianEscalation"] and queued["status"] == "In Progress"


def test_a_reconsideration_reopens_the_clock_and_an_overdue_reopened_case_is_escalated_again(api, review_app, pended):
    client, clock, nurse, doctor = api
    reviews = review_app[0].extensions["oncopath.review"].reviews
    clock.advance(days=6)
    assert sweep_overdue(reviews, clock()) == [pended]
    nurse, doctor = token(client, "nina"), token(client, "paul")
    act(client, nurse, pended, "peer-to-peer-offered")
    assert act(client, doctor, pended, "deny", reason="HER2 negative on retesting").status_code == 200
    assert sweep_overdue(reviews, clock()) == []                       # decided: nothing to escalate
    reopened = act(client, nurse, pended, "reconsideration", note="new HER2 ISH result").get_json()
    assert reopened["status"] == "In Progress" and not reopened["review"]["escalated"]
    assert sweep_overdue(reviews, clock()) == []                       # its new due-by is ahead
    clock.advance(days=6)
    assert sweep_overdue(reviews, clock()) == [pended]
    assert [a.action for a in reviews.review_actions(pended)].count("escalate") == 2


def test_a_case_shows_its_inputs_trace_history_and_allowed_actions(api, pended):
    client, _clock, nurse, _ = api
    view = client.get(f"/review/api/cases/{pended}", headers=nurse).get_json()
    assert view["order"]["drugs"][0]["ref"] == "item/1"
    assert any(step["rule"] == "R4" for step in view["decision"]["trace"])
    assert view["events"][0]["kind"] == "created" and view["audit"][0]["action"] == "case.create"
    assert "deny" not in view["allowedActions"] and "approve" in view["allowedActions"]


# ------------------------------------------------------------------------------------ actions

def test_a_nurse_cannot_deny(api, pended):
    client, _clock, nurse, _ = api
    act(client, nurse, pended, "peer-to-peer-offered", note="left a message")
    resp = act(client, nurse, pended, "deny", reason="HER2 negative on central review")
    assert resp.status_code == 403
    assert "physician" in resp.get_json()["issue"][0]["diagnostics"]


def test_a_physician_cannot_deny_before_peer_to_peer_was_offered(api, pended):
    client, _clock, _nurse, doctor = api
    resp = act(client, doctor, pended, "deny", reason="HER2 negative on central review")
    assert resp.status_code == 409
    assert "peer-to-peer" in resp.get_json()["issue"][0]["diagnostics"]


def test_a_denial_needs_a_specific_reason(api, pended):
    client, _clock, _nurse, doctor = api
    act(client, doctor, pended, "peer-to-peer-offered")
    resp = act(client, doctor, pended, "deny", reason="no")
    assert resp.status_code == 422
    assert "reason" in resp.get_json()["issue"][0]["diagnostics"]
    assert client.get(f"/review/api/cases/{pended}", headers=doctor).get_json()["status"] == "In Progress"


def test_approval_authorizes_awards_pathway_id_s_codes_and_inquire_shows_a1(api, review_app, pended):
    client, _clock, nurse, _ = api
    act(client, nurse, pended, "request-information", information="HER2 IHC/ISH report")
    resp = act(client, nurse, pended, "approve", note="HER2 3+ received by fax")
    assert resp.status_code == 200
    view = resp.get_json()
    assert view["status"] == "Authorized"
    assert view["decision"]["pathway"]["pathway_eligible_id"].startswith("PE-")
    assert [s["code"] for s in view["decision"]["s_codes"]] == ["S0353", "S0354"]
    trastuzumab = next(d for d in view["decision"]["drugs"] if d["drug_key"] == "trastuzumab")
    assert trastuzumab["status"] == "Authorized" and trastuzumab["authorized_from"] == "2026-12-01"
    inquiry = client.post("/fhir/Claim/$inquire", data=json.dumps(load_fixture("inquiry-riverside")),
                          content_type="application/fhir+json").get_json()
    current = next(p["resource"] for p in inquiry["parameter"] if claim_response(p["resource"])["id"] == pended)
    assert set(actions_of(current).values()) == {"A1"}
    cr = claim_response(current)
    assert cr["preAuthRef"] == pended
    assert cr["extension"][0]["extension"][0] == {"url": "wasHumanReviewedFlag", "valueBoolean": True}
    audit = [a.action for a in review_app[0].extensions["oncopath.store"].audit_trail(pended)]
    assert audit == ["case.create", "review.request-information", "review.approve"]


def test_approval_with_a_modified_quantity_is_a6_with_the_approved_detail_in_add_item(api, pended):
    client, _clock, _nurse, doctor = api
    resp = act(client, doctor, pended, "approve", drugs=["item/2"], quantities={"item/2": 30})
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "In Progress"           # other drugs still pended
    record = client.application.extensions["oncopath.store"].get_case(pended)
    cr = claim_response(record.response)
    assert actions_of(record.response)[2] == "A6"
    add = cr["addItem"]
    assert add[0]["itemSequence"] == [2] and add[0]["quantity"] == {"value": 30.0}
    assert review_code(add[0]["adjudication"]) == "A1"
    assert cr["outcome"] == "partial"


def test_a_physician_denial_after_peer_to_peer_is_a3_with_the_reason_and_non_authorized(api, pended):
    client, _clock, nurse, doctor = api
    act(client, nurse, pended, "peer-to-peer-offered", note="called Dr Lee")
    act(client, doctor, pended, "peer-to-peer-held", note="discussed HER2 testing")
    resp = act(client, doctor, pended, "deny", reason="HER2 0 on IHC: trastuzumab is not indicated")
    assert resp.status_code == 200 and resp.get_json()["status"] == "Non-Authorized"
    assert resp.get_json()["decision"]["pathway"]["pathway_eligible_id"] is None
    record = client.application.extensions["oncopath.store"].get_case(pended)
    codes = actions_of(record.response)
    assert {codes[2], codes[3]} == {"A3"}
    notes = " ".join(n["text"] for n in claim_response(record.response)["processNote"])
    assert "HER2 0 on IHC: trastuzumab is not indicated" in notes
    assert "preAuthRef" not in claim_response(record.response) or codes[1] == "A1"


def test_therapeutic_drugs_approved_and_a_supportive_drug_denied_is_multiple_decisions(api):
    client, _clock, nurse, doctor = api
    body = submit(client, thp_her2_unknown("thp-peg", fixture="thp-her2-positive-update-add-pegfilgrastim"))
    order_id = claim_response(body)["id"]
    view = client.get(f"/review/api/cases/{order_id}", headers=doctor).get_json()
    peg = next(d for d in view["decision"]["drugs"] if d["drug_key"] == "pegfilgrastim")
    assert peg["status"] == "In Progress"
    act(client, nurse, order_id, "peer-to-peer-offered")
    others = [d["ref"] for d in view["decision"]["drugs"] if d["status"] == "In Progress" and d["ref"] != peg["ref"]]
    if others:
        assert act(client, doctor, order_id, "approve", drugs=others).status_code == 200
    resp = act(client, doctor, order_id, "deny", drugs=[peg["ref"]], reason="low FN risk regimen without risk factors")
    assert resp.get_json()["status"] == "Multiple Decisions Rendered"


def test_cancel_as_duplicate_is_review_cancelled(api, pended):
    client, _clock, nurse, _ = api
    resp = act(client, nurse, pended, "cancel-duplicate", duplicate_of="ONC-AAAAAAAAAA", note="same regimen")
    assert resp.get_json()["status"] == "Review Cancelled"
    record = client.application.extensions["oncopath.store"].get_case(pended)
    assert set(actions_of(record.response).values()) == {"NA"}
    assert act(client, nurse, pended, "approve").status_code == 409


def test_reconsideration_within_ten_days_reopens_and_day_eleven_points_to_the_appeal(api, review_app, tmp_path):
    client, clock, nurse, doctor = api
    first = claim_response(submit(client, thp_her2_unknown("recon-a")))["id"]
    second = claim_response(submit(client, thp_her2_unknown("recon-b")))["id"]
    for order_id in (first, second):
        act(client, nurse, order_id, "peer-to-peer-offered")
        assert act(client, doctor, order_id, "deny", reason="HER2 negative on retesting").status_code == 200
    clock.advance(days=10)
    nurse, doctor = token(client, "nina"), token(client, "paul")
    reopened = act(client, nurse, first, "reconsideration", note="new HER2 ISH result")
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "In Progress"
    assert reopened.get_json()["dueBy"] == "2026-12-03T14:00:00+00:00"     # 3 business days from the request
    approved = act(client, doctor, first, "approve")
    assert approved.get_json()["status"] == "Authorized"
    clock.advance(days=1)
    nurse = token(client, "nina")
    late = act(client, nurse, second, "reconsideration", note="too late")
    assert late.status_code == 409
    assert "appeal to the health plan" in late.get_json()["issue"][0]["diagnostics"]


def test_an_action_on_a_closed_case_is_a_409_and_changes_nothing(api, pended):
    client, _clock, nurse, _ = api
    act(client, nurse, pended, "approve")
    store = client.application.extensions["oncopath.store"]
    before = store.get_case(pended)
    resp = act(client, nurse, pended, "request-information", information="anything")
    assert resp.status_code == 409 and "Authorized" in resp.get_json()["issue"][0]["diagnostics"]
    assert store.get_case(pended).revision == before.revision


def test_unknown_actions_drugs_and_cases_are_clear_4xx(api, pended):
    client, _clock, nurse, _ = api
    assert act(client, nurse, pended, "escalate-now").status_code == 400
    assert act(client, nurse, pended, "approve", drugs=["item/99"]).status_code == 422
    assert act(client, nurse, "ONC-NOPENOPE22", "approve").status_code == 404
    assert act(client, nurse, pended, "approve", quantities={"item/1": -3}).status_code == 422


def test_a_stale_revision_loses_to_the_first_reviewer(review_app, pended, api):
    from server.errors import Conflict
    from server.review.service import Actor
    from server.review.workflow import Role

    app, clock = review_app
    service = app.extensions["oncopath.review"]
    record = service.cases.get_case(pended)
    service.act(pended, "peer-to-peer-offered", Actor("nina", Role.NURSE), {}, clock())
    with pytest.raises(Conflict):
        service.reviews.apply_review(pended, expected_revision=record.revision, actor="paul", role="physician",
                                     action="approve", detail={}, now=clock(), status="Authorized")


def test_a_case_from_cds_hooks_is_reviewed_and_gets_a_claim_response(review_app):
    from mappings import order_from_pas_bundle
    from dataclasses import replace
    from server.engine import decide

    app, clock = review_app
    store = app.extensions["oncopath.store"]
    order = order_from_pas_bundle(thp_her2_unknown("cds"), received_at=RECEIVED)
    order = replace(order, drugs=tuple(replace(d, ref=f"MedicationRequest/mr-{i}") for i, d in enumerate(order.drugs)))
    decision = decide(order, app.extensions["oncopath.knowledge"], store.history_for_member(order.member.id))
    record = store.save_case(source="cds", request_key="hook-instance-1", order=order, decision=decision,
                             raw_request={"hook": "order-sign"}, render_response=lambda _id: {"cards": []})
    client = app.test_client()
    doctor = token(client, "paul")
    resp = act(client, doctor, record.order_id, "approve")
    assert resp.status_code == 200 and resp.get_json()["status"] == "Authorized"
    cr = client.get(f"/fhir/ClaimResponse/{record.order_id}", headers=doctor).get_json()
    assert cr["resourceType"] == "ClaimResponse" and cr["preAuthRef"] == record.order_id
    assert {review_code(i["adjudication"]) for i in cr["item"]} == {"A1"}
    assert store.find_case_by_request_key("hook-instance-1").response == {"cards": []}   # replay answer kept
    from test_portal_pages import sign_in
    sign_in(client)
    page = client.get(f"/portal/review/cases/{record.order_id}")
    assert page.status_code == 200 and "MedicationRequest/mr-0" in page.get_data(as_text=True)


def test_the_review_flow_works_on_postgresql(tmp_path, postgres_url):
    app, clock = make_app(tmp_path, DATABASE_URL=postgres_url)
    client = app.test_client()
    sub = load_example("Subscription-PASSubscriptionExample.json")
    assert client.post("/fhir/Subscription", data=json.dumps(sub), content_type="application/fhir+json").status_code == 201
    order_id = claim_response(submit(client, thp_her2_unknown("pg")))["id"]
    doctor = token(client, "paul")
    act(client, doctor, order_id, "peer-to-peer-offered")
    resp = act(client, doctor, order_id, "deny", reason="HER2 negative on central testing")
    assert resp.get_json()["status"] == "Non-Authorized"
    [note] = app.extensions["oncopath.review"].reviews.notifications_for(order_id)
    assert note.event_number == 1 and note.status == "pending"
    app.extensions["oncopath.store"].dispose()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
