"""R8 without leaks: a duplicate of another provider's order is named only as "a similar
request is on file with another provider"; the reviewer still sees which one."""
from __future__ import annotations

from .conftest import ATTACKER_NPI, SUBMIT, submission_as


def test_a_duplicate_of_another_providers_order_does_not_reveal_its_order_id(app, attacker, victim_case):
    resp = attacker.post(SUBMIT, submission_as(ATTACKER_NPI, "attacker-claim-1"))
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "a similar request is on file with another provider" in text
    assert victim_case not in text
    own = resp.get_json()["entry"][0]["resource"]["id"]
    record = app.extensions["oncopath.store"].get_case(own)
    assert record.status == "In Progress"
    assert record.decision_obj().duplicate_of == victim_case          # for the reviewer
    assert any(victim_case in step.text for step in record.decision_obj().trace if step.rule == "R8")


def test_a_duplicate_of_the_same_providers_order_still_names_it(victim, victim_case):
    from .conftest import VICTIM_NPI

    resp = victim.post(SUBMIT, submission_as(VICTIM_NPI, "victim-claim-2"))
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"Duplicate Order: similar request on file (Order ID {victim_case})" in text
    assert "with another provider" not in text
