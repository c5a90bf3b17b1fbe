"""A label criterion attested on the program worksheet decides the same way through both doors:
the QuestionnaireResponse sent with an order-sign hook (prefetch) or inside a PAS Bundle (2027.1.5)."""
from __future__ import annotations

import json

import pytest

from scenarios.build import requests_for
from scenarios.doors import call_hook, call_submit, make_app
from scenarios.generate import generated_scenarios

KEY = "chl-high-risk-post-auto-hsct"


def _consolidation_scenario():
    return next(s for s in generated_scenarios() if s["id"] == "gen-chl-brentuximab-consolidation")


@pytest.mark.parametrize("attest, status", [(True, "Authorized"), (False, "In Progress"), (None, "In Progress")])
def test_both_doors_decide_the_consolidation_on_the_worksheet_answer(tmp_path, attest, status):
    sc = _consolidation_scenario()
    patient = dict(sc["patient"])
    if attest is None:
        patient.pop("attest")
    else:
        patient["attest"] = {KEY: attest}
    hook, bundle = requests_for(dict(sc, patient=patient))
    app = make_app(tmp_path / "db.sqlite")
    by_hook, by_pas = call_hook(app, hook), call_submit(make_app(tmp_path / "db2.sqlite"), bundle)
    assert by_hook.case_status == by_pas.case_status == status
    assert by_hook.drugs == by_pas.drugs
    if status == "Authorized":
        assert by_hook.pathway_eligible_id and by_hook.regimen == "chl-brentuximab-consolidation"
    else:
        assert by_hook.drugs["brentuximab-vedotin"] == "In Progress"
        assert "policy-criteria-unknown" in by_hook.pend_reasons or "policy-criteria-not-met" in by_hook.pend_reasons
        card = json.dumps(by_hook.raw)
        assert "program worksheet" in card or "corrected worksheet" in card


pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("attest, on_pathway", [(True, True), (False, False), (None, False)])
def test_a_regimens_own_attested_criterion_decides_whether_it_is_on_pathway(tmp_path, attest, on_pathway):
    # adjuvant abemaciclib (monarchE: node-positive, at high risk of recurrence) is oral: the program
    # answers with pathway alignment only, the same through both doors
    key = "breast-hrpos-node-positive-high-risk"
    sc = next(s for s in generated_scenarios() if s["id"] == "gen-breast-hrpos-early-abemaciclib-endocrine")
    patient = dict(sc["patient"])
    patient["attest"] = {} if attest is None else {key: attest}
    hook, bundle = requests_for(dict(sc, patient=patient))
    by_hook, by_pas = call_hook(make_app(tmp_path / "a.sqlite"), hook), call_submit(make_app(tmp_path / "b.sqlite"), bundle)
    assert by_hook.case_status == by_pas.case_status == "Completed"
    assert by_hook.on_pathway is by_pas.on_pathway is on_pathway
    if on_pathway:
        assert by_hook.regimen == "breast-hrpos-early-abemaciclib-endocrine"
    elif attest is None:
        # the regimen's unanswered criterion is its own deviation on the wire, not another topic's
        assert ("missing-attestation", "pend", "") in set(by_hook.deviations)


def test_the_worksheet_form_asks_the_attestation_yes_or_no_and_a_yes_authorizes_the_case_at_once(tmp_path):
    import re

    from test_worksheets import BASE, make_app as worksheet_app

    sc = _consolidation_scenario()
    patient = {k: v for k, v in sc["patient"].items() if k != "attest"}
    hook, _ = requests_for(dict(sc, patient=patient))
    app = worksheet_app(tmp_path)
    client = app.test_client()
    card = client.post("/cds-services/oncopath-order-sign", json=hook).get_json()["cards"][0]
    assert card["summary"].startswith("Pended for review: worksheet attestation not in the record.")
    url = card["links"][0]["url"]
    html = client.get(url.removeprefix(BASE)).get_data(as_text=True)
    assert re.search(rf'<select id="attest.{KEY}" name="attest.{KEY}">\s*<option value="">—</option>\s*'
                     r'<option value="true" >Yes</option>', html)
    order_id = re.search(r"/worksheets/(ONC-\w+)", url).group(1)
    resp = client.post(f"/worksheets/{order_id}", data={"t": url.split("?t=")[1], f"attest.{KEY}": "true"})
    assert resp.status_code == 200 and re.search(r'id="case-status">Authorized<', resp.get_data(as_text=True))
    assert app.extensions["oncopath.store"].get_case(order_id).status == "Authorized"
