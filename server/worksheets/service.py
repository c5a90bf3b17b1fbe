"""The worksheet use case: a clinician's answers attach to the case as a QuestionnaireResponse
and the case is decided again at once, with the engine's own `decide()` on the stored order
with the answers merged in. One function, `submit_worksheet`; the rest reads and checks answers.

Answers are keyed by the Questionnaire's linkIds (server/hooks/questionnaires.py):
`diagnosis.stage`, `diagnosis.setting`, `diagnosis.line`, `diagnosis.ecog`, `biomarkers.<KEY>`
(positive | negative | equivocal | not-tested) with `biomarkers.<KEY>.value`, `regimen.start`,
`supportive.fn-risk-factors`, `trial`. A blank answer changes nothing; "not tested" keeps what
the record says. No framework imports.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import date, datetime

from server import engine
from server.domain.decision import CaseStatus, Decision
from server.domain.order import Biomarker, BiomarkerResult, LineOfTherapy, Order, Setting
from server.errors import BadRequest, Conflict, Issue, NotFound
from server.hooks.questionnaires import questionnaire_id

_RESULTS = {"positive": BiomarkerResult.POSITIVE, "negative": BiomarkerResult.NEGATIVE,
            "equivocal": BiomarkerResult.EQUIVOCAL}
_SETTINGS = {s.value: s for s in Setting if s is not Setting.UNKNOWN}
_LINES = {x.value: x for x in LineOfTherapy if x is not LineOfTherapy.UNKNOWN}
_NCT = re.compile(r"^NCT\d{8}$")


def submit_worksheet(store, knowledge, order_id: str, answers: dict[str, str], now: datetime) -> Decision:
    """Attach the worksheet to the case and decide it again. Only a case in review takes a
    worksheet (a decided case is changed by a reviewer or a new request)."""
    record = store.get_case(order_id)
    if record is None:
        raise NotFound(Issue("not-found", f"no case {order_id}"))
    if record.status != CaseStatus.IN_PROGRESS.value:
        raise Conflict(Issue("business-rule", f"case {order_id} is {record.status}: it no longer takes a worksheet"))
    answers = {k: str(v).strip() for k, v in answers.items() if v is not None and str(v).strip()}
    order = merge_answers(record.order_obj(), answers)
    history = store.history_for_member(order.member.id, exclude_order_id=order_id)
    decision = engine.decide(order, knowledge, history)
    decision_cancer = decision.cancer_type or record.decision.get("cancer_type")
    response = questionnaire_response(order_id, decision_cancer, answers, now)
    digest = hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()[:16]
    store.update_case(order_id, request_key=f"worksheet:{order_id}:{digest}", order=order, decision=decision,
                      raw_request=response, kind="worksheet", actor="provider", note="worksheet submitted",
                      render_response=lambda _oid: {"worksheet": response["id"],
                                                    "status": decision.case_status.value})
    return decision


def merge_answers(order: Order, answers: dict[str, str]) -> Order:
    """The stored order with what the worksheet reports (a bad value is a 400, naming it)."""
    dx = order.diagnosis
    stage = answers.get("diagnosis.stage")
    if stage:
        dx = replace(dx, stage_group=None if stage.lower() in ("not staged", "unknown") else stage.upper()[:12])
    if "diagnosis.setting" in answers:
        dx = replace(dx, setting=_pick(_SETTINGS, answers["diagnosis.setting"], "diagnosis.setting"))
    if "diagnosis.line" in answers:
        dx = replace(dx, line_of_therapy=_pick(_LINES, answers["diagnosis.line"], "diagnosis.line"))
    changes: dict = {"diagnosis": dx}
    if "diagnosis.ecog" in answers:
        ecog = answers["diagnosis.ecog"]
        if not ecog.isdigit() or not 0 <= int(ecog) <= 5:
            raise _bad("diagnosis.ecog", "ECOG must be a whole number from 0 to 5")
        changes["ecog"] = int(ecog)
    if "regimen.start" in answers:
        try:
            changes["treatment_start"] = date.fromisoformat(answers["regimen.start"])
        except ValueError:
            raise _bad("regimen.start", "the treatment start must be a date (YYYY-MM-DD)") from None
    if "trial" in answers:
        nct = answers["trial"].upper()
        if not _NCT.match(nct):
            raise _bad("trial", "a clinical trial is named by its NCT number (NCT followed by 8 digits)")
        changes["clinical_trial_nct"] = nct
    markers = {k.split(".", 1)[1]: v for k, v in answers.items()
               if k.startswith("biomarkers.") and k.count(".") == 1}
    biomarkers = list(order.biomarkers)
    for marker, value in markers.items():
        key = value.lower().replace("-", " ")
        if key == "not tested":
            continue
        result = _RESULTS.get(key)
        if result is None:
            raise _bad(f"biomarkers.{marker}", f"{marker}: answer positive, negative, equivocal or not tested")
        detail = answers.get(f"biomarkers.{marker}.value") or None
        known = order.biomarker(marker)
        if known is not None and known.result is result and detail in (None, _detail_words(known)):
            continue      # the prefilled answer sent back as it was: the record's result (with its value) stays
        biomarkers = [b for b in biomarkers if b.name != marker]
        biomarkers.insert(0, Biomarker(name=marker, result=result, variant=detail[:80] if detail else None,
                                       method="worksheet"))
    changes["biomarkers"] = tuple(biomarkers)
    return replace(order, **changes)


def questionnaire_response(order_id: str, cancer_type: str | None, answers: dict[str, str], now: datetime) -> dict:
    """The worksheet as FHIR: answers only, no patient identifiers (the case holds those)."""
    items = []
    for link_id, value in sorted(answers.items()):
        if link_id.startswith("biomarkers.") and link_id.count(".") == 1:
            answer = {"valueCoding": {"code": value.lower().replace(" ", "-"), "display": value}}
        elif link_id == "diagnosis.ecog" and value.isdigit():
            answer = {"valueInteger": int(value)}
        elif link_id == "regimen.start":
            answer = {"valueDate": value}
        else:
            answer = {"valueString": value}
        items.append({"linkId": link_id, "answer": [answer]})
    digest = hashlib.sha256(f"{order_id}|{now.isoformat()}".encode()).hexdigest()[:12]
    return {"resourceType": "QuestionnaireResponse", "id": f"worksheet-{digest}",
            "questionnaire": f"Questionnaire/{questionnaire_id(cancer_type)}", "status": "completed",
            "authored": now.isoformat(), "identifier": {"system": "urn:oncopath:order-id", "value": order_id},
            "item": items}


def prefill(order: Order) -> dict[str, str]:
    """What the request already told us, by linkId: the form opens with it filled in."""
    dx = order.diagnosis
    out: dict[str, str] = {}
    if dx.codes:
        out["diagnosis.icd10"] = dx.codes[0].code
    if dx.stage_group:
        out["diagnosis.stage"] = dx.stage_group
    if dx.setting is not Setting.UNKNOWN:
        out["diagnosis.setting"] = dx.setting.value
    if dx.line_of_therapy is not LineOfTherapy.UNKNOWN:
        out["diagnosis.line"] = dx.line_of_therapy.value
    if order.ecog is not None:
        out["diagnosis.ecog"] = str(order.ecog)
    for b in order.biomarkers:
        if b.result is not BiomarkerResult.UNKNOWN and f"biomarkers.{b.name}" not in out:
            out[f"biomarkers.{b.name}"] = b.result.value
            detail = _detail_words(b)
            if detail:
                out[f"biomarkers.{b.name}.value"] = detail
    if order.treatment_start:
        out["regimen.start"] = order.treatment_start.isoformat()
    if order.clinical_trial_nct:
        out["trial"] = order.clinical_trial_nct
    return out


def _detail_words(b: Biomarker) -> str | None:
    """'IHC 3+', 'NGS L858R', '60 %': how the form shows a result's method, variant and value."""
    text = " ".join(x for x in (b.method if b.method != "worksheet" else None, b.variant,
                                f"{b.value:g}{' ' + b.unit if b.unit else ''}" if b.value is not None else None) if x)
    return text or None


def _pick(table: dict, value: str, link_id: str):
    found = table.get(value) or table.get(value.lower())
    if found is None:
        raise _bad(link_id, f"{link_id}: one of {', '.join(table)}")
    return found


def _bad(link_id: str, text: str) -> BadRequest:
    return BadRequest(Issue("value", text, expression=[link_id]))
