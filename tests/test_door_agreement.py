"""Door disagreements found by using both doors as a new user would: the same clinical facts
get the same answer through CDS Hooks order-sign and through PAS Claim/$submit, and the same
body rules hold on every route."""
from __future__ import annotations

import copy
import json

import pytest

from mappings.pas_request import request_key
from mappings import pas_checks

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
RA = {"system": ICD10, "code": "M06.9", "display": "Rheumatoid arthritis, unspecified"}


@pytest.fixture
def jwt_off_client(tmp_path):
    from server.app import create_app

    app = create_app({"TESTING": True, "CDS_JWT_REQUIRED": False,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'doors.db'}"})
    return app, app.test_client()


def _rituximab(kb):
    drug = kb.drugs["rituximab"]
    return ({"system": RXNORM, "code": drug.rxnorm[0], "display": drug.name},
            {"system": HCPCS, "code": drug.hcpcs[0].code, "display": drug.hcpcs[0].description})


def _as_rheumatoid_arthritis(resource: dict, rx: dict) -> None:
    if resource.get("resourceType") == "Condition":
        resource["code"] = {"coding": [dict(RA)]}
        resource.pop("stage", None)
        resource.get("meta", {}).pop("profile", None)
        resource.pop("extension", None)
    elif resource.get("resourceType") == "MedicationRequest":
        resource["medicationCodeableConcept"] = {"coding": [dict(rx)], "text": rx["display"]}


def _ra_hook(fixtures_dir, rx) -> dict:
    hook = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    hook["hookInstance"] = "ra-rituximab-hook"
    entries = hook["context"]["draftOrders"]["entry"]
    hook["context"]["draftOrders"]["entry"] = entries[:1]
    _as_rheumatoid_arthritis(entries[0]["resource"], rx)
    for entry in hook["prefetch"]["conditions"]["entry"]:
        _as_rheumatoid_arthritis(entry["resource"], rx)
    return hook


def _ra_claim(fixtures_dir, rx, hcpcs) -> dict:
    bundle = json.loads((fixtures_dir / "pas" / "thp-her2-positive.json").read_text())
    claim = bundle["entry"][0]["resource"]
    claim["identifier"][0]["value"] = "ra-rituximab-pas"
    claim["diagnosis"] = [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [dict(RA)]}}]
    claim["item"] = claim["item"][:1]
    claim["item"][0]["productOrService"] = {"coding": [dict(hcpcs)]}
    kept = {claim["item"][0]["extension"][i]["valueReference"]["reference"]
            for i, e in enumerate(claim["item"][0]["extension"]) if "valueReference" in e}
    entries = []
    for e in bundle["entry"]:
        res = e["resource"]
        if res["resourceType"] == "MedicationRequest" and e["fullUrl"] not in kept \
                and f"MedicationRequest/{res['id']}" not in kept:
            continue
        _as_rheumatoid_arthritis(res, rx)
        entries.append(e)
    bundle["entry"] = entries
    return bundle


def test_rituximab_for_rheumatoid_arthritis_is_out_of_program_through_both_doors(jwt_off_client, fixtures_dir):
    app, client = jwt_off_client
    kb = app.extensions["oncopath.knowledge"]
    store = app.extensions["oncopath.store"]
    rx, hcpcs = _rituximab(kb)

    hook = client.post("/cds-services/oncopath-order-sign", json=_ra_hook(fixtures_dir, rx))
    assert hook.status_code == 200, hook.get_data(as_text=True)
    pas_bundle = _ra_claim(fixtures_dir, rx, hcpcs)
    pas = client.post("/fhir/Claim/$submit", data=json.dumps(pas_bundle), content_type="application/fhir+json")
    assert pas.status_code == 200, pas.get_data(as_text=True)

    by_hook = store.find_case_by_request_key("ra-rituximab-hook").decision_obj()
    claim = pas_bundle["entry"][0]["resource"]
    by_pas = store.find_case_by_request_key(request_key(pas_checks.claim_identifier(claim))).decision_obj()
    for decision in (by_hook, by_pas):
        assert decision.in_program is False
        assert decision.program_reason.code == "diagnosis-not-oncology"
        assert [d.status.value for d in decision.drugs] == ["Clinical Review Not Required"]
    assert by_hook.case_status == by_pas.case_status

    actions = hook.get_json()["systemActions"]
    coverage = [e for a in actions for e in a["resource"].get("extension", [])
                if e["url"].endswith("ext-coverage-information")]
    assert any(sub.get("valueCode") == "no-auth" for e in coverage for sub in e["extension"])
    response = pas.get_json()["entry"][0]["resource"]
    review_codes = [sub["valueCodeableConcept"]["coding"][0]["code"]
                    for item in response["item"] for adj in item.get("adjudication", [])
                    for ext in adj.get("extension", []) if ext["url"].endswith("extension-reviewAction")
                    for sub in ext["extension"] if sub["url"].endswith("extension-reviewActionCode")]
    assert review_codes == ["NA"]


def _routes(fixtures_dir):
    hook = json.loads((fixtures_dir / "hooks" / "order-sign-thp-her2-positive.json").read_text())
    pas = json.loads((fixtures_dir / "pas" / "thp-her2-positive.json").read_text())
    inquiry = json.loads((fixtures_dir / "pas" / "inquiry-riverside.json").read_text())
    return [
        ("/cds-services/oncopath-order-sign", "application/json", hook, "hookInstance"),
        ("/cds-services/oncopath-order-select",
         "application/json", json.loads((fixtures_dir / "hooks" / "order-select-thp-her2-positive.json").read_text()),
         "hookInstance"),
        ("/fhir/Claim/$submit", "application/fhir+json", pas, None),
        ("/fhir/Claim/$inquire", "application/fhir+json", inquiry, None),
    ]


def _with_text(body: dict, text_json: str, key: str | None) -> str:
    """The body as JSON text with one extra string member whose JSON source is `text_json`."""
    body = copy.deepcopy(body)
    marker = "__oncopath_marker__"
    if key:
        body[key] = body[key] + "-" + str(abs(hash(text_json)) % 10**6)
    body["language" if body.get("resourceType") == "Bundle" else "x-note"] = marker
    if body.get("resourceType") == "Bundle":
        body["entry"][0]["resource"]["identifier"][0]["value"] += str(abs(hash(text_json)) % 10**6)
    return json.dumps(body).replace(f'"{marker}"', f'"{text_json}"')


def test_an_escaped_nul_is_refused_the_same_way_on_every_route(jwt_off_client, fixtures_dir):
    _app, client = jwt_off_client
    for path, ctype, body, key in _routes(fixtures_dir):
        resp = client.post(path, data=_with_text(body, "a\\u0000b", key), content_type=ctype)
        assert resp.status_code == 400, path
        assert "NUL" in resp.get_json()["issue"][0]["diagnostics"], path


def test_a_backslash_followed_by_u0000_is_text_and_accepted_on_every_route(jwt_off_client, fixtures_dir):
    _app, client = jwt_off_client
    for path, ctype, body, key in _routes(fixtures_dir):
        resp = client.post(path, data=_with_text(body, "a\\\\u0000b", key), content_type=ctype)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[:300])

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
