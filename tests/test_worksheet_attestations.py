"""Label criteria no code in the record carries ("at high risk of relapse or progression as
post-auto-HSCT consolidation", Adcetris 1.3) are asked on the program worksheet in the label's
words and attested yes / no by the ordering clinician (DTR). Yes meets the criterion, no fails it,
no answer pends and the card asks for the worksheet; both doors read the same QuestionnaireResponse
(2027.1.5)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from cards.wording import merge, reason_findings
from mappings.worksheet import attestations, worksheet_answers
from server.domain.decision import Reason
from server.engine.policy import evaluate_indication
from server.errors import BadRequest
from server.hooks.questionnaires import worksheet
from server.knowledge.loader import KnowledgeError, load_knowledge
from server.worksheets.service import merge_answers, prefill, questionnaire_response
from test_engine_scenarios import order, rx

KB = load_knowledge()
CONSOLIDATION = next(i for i in KB.indications_for("brentuximab-vedotin", "hodgkin-lymphoma")
                     if i.id == "brentuximab-chl-post-transplant-consolidation")
KEY = "chl-high-risk-post-auto-hsct"


def response(*answers, questionnaire="http://x/fhir/Questionnaire/oncopath-worksheet-hodgkin-lymphoma"):
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": questionnaire,
            "item": [{"linkId": "attest", "item": [{"linkId": link, "answer": [answer]} for link, answer in answers]}]}


def attestation_check(attested):
    o = replace(order(rx("brentuximab-vedotin"), cancer="dlbcl"), attested=attested)
    return next(c for c in evaluate_indication(CONSOLIDATION, "hodgkin-lymphoma", o, KB).checks
                if c.what == "worksheet attestation")


def test_a_boolean_or_a_yes_no_answer_is_read_and_other_answers_are_not():
    answers = worksheet_answers(response((f"attest.{KEY}", {"valueBoolean": True}),
                                         ("attest.other", {"valueString": "No"}),
                                         ("attest.vague", {"valueString": "probably"})))
    assert attestations(answers) == (("chl-high-risk-post-auto-hsct", True), ("other", False))
    foreign = response((f"attest.{KEY}", {"valueBoolean": True}), questionnaire="http://x/Questionnaire/phq-9")
    assert attestations(worksheet_answers(foreign)) == ()


def test_yes_meets_the_label_criterion_no_fails_it_and_no_answer_pends():
    assert attestation_check(((KEY, True),)).status is True
    refused = attestation_check(((KEY, False),))
    assert refused.status is False and refused.reported == "reported a no on the worksheet"
    unanswered = attestation_check(())
    assert unanswered.status is None and unanswered.reported == "worksheet attestation not reported"
    assert "high risk of relapse or progression" in unanswered.required


def test_the_card_asks_for_the_worksheet_when_the_attestation_is_missing_or_answered_no():
    missing = merge(reason_findings(Reason("policy-criteria-unknown", "brentuximab-vedotin requires high risk of relapse "
                                     "or progression, as consolidation after auto-HSCT, attested on the worksheet; "
                                     "worksheet attestation not reported", "R3"),
                              "brentuximab-vedotin", KB, "Hodgkin lymphoma"))
    assert missing[0].send.startswith("the program worksheet") and "high risk of relapse" in missing[0].text
    refused = merge(reason_findings(Reason("policy-criteria-not-met", "brentuximab-vedotin requires high risk of relapse "
                                     "or progression, as consolidation after auto-HSCT, attested on the worksheet; "
                                     "reported a no on the worksheet", "R3"),
                              "brentuximab-vedotin", KB, "Hodgkin lymphoma"))
    assert refused[0].send == "a corrected worksheet, if its answer was wrong"
    assert "the record shows a no on the worksheet" in refused[0].text


def test_every_unanswered_attestation_of_a_label_is_named_on_the_card():
    reason = Reason("policy-criteria-unknown", "polatuzumab-vedotin requires DLBCL NOS or high-grade B-cell lymphoma, "
                    "attested on the worksheet; worksheet attestation not reported; IPI of 2 or greater, attested on "
                    "the worksheet; worksheet attestation not reported", "R3")
    texts = [f.text for f in merge(reason_findings(reason, "polatuzumab-vedotin", KB, "DLBCL"))]
    assert len(texts) == 2 and "IPI of 2 or greater" in texts[1] and "DLBCL NOS" in texts[0]


def test_the_worksheet_asks_the_labels_own_words_only_for_the_cancer_type_that_needs_them():
    def attest_items(cancer):
        form = worksheet(cancer, KB, "https://x/Questionnaire/w", KB.version)
        return next((g["item"] for g in form["item"] if g["linkId"] == "attest"), [])
    items = attest_items("hodgkin-lymphoma")
    assert {i["linkId"]: i["type"] for i in items}[f"attest.{KEY}"] == "boolean"
    assert CONSOLIDATION.attests[0].question in {i["text"] for i in items}
    assert f"attest.{KEY}" not in {i["linkId"] for i in attest_items("breast")}
    # a regimen's own criterion is asked too (monarchE's high risk, for adjuvant abemaciclib)
    assert "attest.breast-hrpos-node-positive-high-risk" in {i["linkId"] for i in attest_items("breast")}


def test_worksheet_answers_merge_write_back_as_booleans_and_prefill_the_form():
    base = order(rx("brentuximab-vedotin"), cancer="dlbcl")
    answered = merge_answers(base, {f"attest.{KEY}": "yes"})
    assert answered.attestation(KEY) is True and prefill(answered)[f"attest.{KEY}"] == "true"
    assert merge_answers(answered, {f"attest.{KEY}": "false"}).attestation(KEY) is False
    assert merge_answers(answered, {f"attest.{KEY}": ""}).attestation(KEY) is True     # blank keeps
    with pytest.raises(BadRequest):
        merge_answers(base, {f"attest.{KEY}": "maybe"})
    from datetime import datetime, timezone
    qr = questionnaire_response("o-1", "hodgkin-lymphoma", {f"attest.{KEY}": "yes"}, datetime(2026, 12, 4, tzinfo=timezone.utc))
    assert qr["item"] == [{"linkId": f"attest.{KEY}", "answer": [{"valueBoolean": True}]}]


def test_one_key_asks_one_question_wherever_a_label_uses_it(tmp_path):
    import shutil
    from server.knowledge.loader import DATA_DIR
    shutil.copytree(DATA_DIR, tmp_path / "kb", ignore=shutil.ignore_patterns("releases"))
    lymphoid = tmp_path / "kb" / "policies" / "lymphoid.yaml"
    text = lymphoid.read_text(encoding="utf-8")
    # the same key given again, for another indication, in other words
    text = text.replace("      - id: brentuximab-chl-relapsed-monotherapy\n",
                        "      - id: brentuximab-chl-relapsed-monotherapy\n        attests:\n"
                        f"          - {{key: {KEY}, question: 'Some other wording of it', short: 'other words'}}\n", 1)
    lymphoid.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError, match="worded differently"):
        load_knowledge(tmp_path / "kb")


pytestmark = pytest.mark.unit
