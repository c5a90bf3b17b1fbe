"""What the clinician reads when a label criterion counted from the treatment history is not met
or cannot be told (issue 14: progression intervals, prior-line ceilings): one plain sentence
naming the criterion and what the record shows, and what to send - through the order-sign door -
and the worksheet that answers it (the case is decided again at once)."""
from __future__ import annotations

import pytest

from scenarios.build import requests_for
from scenarios.doors import make_app
from test_scenarios import SCENARIOS

pytestmark = pytest.mark.e2e

SIGN = "/cds-services/oncopath-order-sign"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("cards") / "oncopath.db")


@pytest.fixture
def fresh_app(tmp_path):
    """A database of its own: a worksheet decides the case, so each test signs its request anew."""
    return make_app(tmp_path / "oncopath.db")


def pended(app, scenario_id: str) -> dict:
    sc = next(s for s in SCENARIOS if s["id"] == scenario_id)
    hook, _ = requests_for(sc)
    body = app.test_client().post(SIGN, json=hook).get_json()
    [card] = [c for c in body["cards"] if c["summary"].startswith("Pended for review")]
    return card


def pended_card(app, scenario_id: str) -> str:
    return pended(app, scenario_id)["detail"]


def answer_worksheet(app, card: dict, answers: dict) -> tuple[int, str]:
    [link] = card["links"]
    path = link["url"].split("oncopath.example.org", 1)[1]
    order_id, token = path.split("?t=")[0].rsplit("/", 1)[1], path.split("?t=")[1]
    resp = app.test_client().post(f"/worksheets/{order_id}", data={"t": token, **answers})
    return resp.status_code, app.extensions["oncopath.store"].get_case(order_id).status


def test_a_relapse_within_six_months_names_the_interval_and_the_dates_on_record(app):
    detail = pended_card(app, "ovarian-carboplatin-gemcitabine-platinum-resistant")
    assert ("Gemcitabine requires progression more than 6 months after the last carboplatin or cisplatin dose "
            "(platinum-sensitive); the record shows last dose 2026-07-30, progression 2026-10-29, within 6 months."
            ) in detail
    assert "**What to send:** the treatment history (last dose dates, documented progression)" in detail


def test_a_history_without_a_progression_date_asks_for_it(app):
    detail = pended_card(app, "ovarian-carboplatin-gemcitabine-recurrent")
    assert "Progression after the last dose is not in the record; gemcitabine needs progression more than 6 months" in detail
    assert "**What to send:** the date progression was documented after the last dose" in detail


def test_third_line_or_later_asks_for_the_number_of_prior_lines(app):
    detail = pended_card(app, "myeloma-krd-relapsed-third-line-or-later")
    assert "Number of prior lines is not in the record; carfilzomib needs at most 3 prior lines of therapy." in detail
    assert "**What to send:** the number of prior lines of therapy" in detail


def test_a_maintenance_without_its_induction_drug_says_which_drug_must_come_first(app):
    detail = pended_card(app, "sclc-durvalumab-maintenance-without-durvalumab-induction")
    assert ("Durvalumab requires durvalumab given before (in the record's completed treatment); "
            "the record shows prior carboplatin, etoposide.") in detail
    assert "**What to send:** the prior treatment (completed medication records)" in detail
    assert "a current after report" not in detail


def test_the_worksheet_takes_the_progression_date_and_a_platinum_sensitive_relapse_is_authorized(fresh_app):
    card = pended(fresh_app, "ovarian-carboplatin-gemcitabine-recurrent")   # last carboplatin 2026-03-02, no progression
    assert answer_worksheet(fresh_app, card, {"history.progression": "2026-11-02"}) == (200, "Authorized")


def test_a_worksheet_progression_within_six_months_keeps_the_case_in_review(fresh_app):
    card = pended(fresh_app, "ovarian-carboplatin-gemcitabine-recurrent")
    assert answer_worksheet(fresh_app, card, {"history.progression": "2026-06-15"}) == (200, "In Progress")


def test_a_worksheet_last_dose_of_the_named_drug_counts_in_the_interval(fresh_app):
    card = pended(fresh_app, "ovarian-carboplatin-gemcitabine-recurrent")
    answers = {"history.last-dose-drug": "carboplatin", "history.last-dose": "2026-08-01",
               "history.progression": "2026-11-02"}      # three months after that later dose: not sensitive
    assert answer_worksheet(fresh_app, card, answers) == (200, "In Progress")


def test_the_worksheet_takes_the_number_of_prior_lines_against_the_labels_ceiling(tmp_path):
    over = make_app(tmp_path / "a.db")
    assert answer_worksheet(over, pended(over, "myeloma-krd-relapsed-third-line-or-later"),
                            {"history.prior-lines": "4"}) == (200, "In Progress")
    within = make_app(tmp_path / "b.db")
    assert answer_worksheet(within, pended(within, "myeloma-krd-relapsed-third-line-or-later"),
                            {"history.prior-lines": "2"}) == (200, "Authorized")


def test_a_last_dose_without_its_drug_is_refused_and_the_case_is_unchanged(fresh_app):
    card = pended(fresh_app, "ovarian-carboplatin-gemcitabine-recurrent")
    assert answer_worksheet(fresh_app, card, {"history.last-dose": "2026-01-05"}) == (400, "In Progress")


def test_maintenance_without_a_documented_response_asks_for_it_and_the_worksheet_answers(fresh_app):
    card = pended(fresh_app, "fl-rituximab-maintenance-pends-on-response")
    assert "Response is not in the record; rituximab needs a complete or partial response to rituximab." in card["detail"]
    assert "**What to send:** the response to the induction (complete or partial remission) and its date" in card["detail"]
    answers = {"history.last-dose-drug": "rituximab", "history.last-dose": "2026-08-17",
               "history.response": "2026-10-06"}
    assert answer_worksheet(fresh_app, card, answers) == (200, "Authorized")
