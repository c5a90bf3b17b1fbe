"""The worksheet's answers: merged into a stored order (`merge_answers`), written as a
QuestionnaireResponse (`questionnaire_response`), and what the form opens with (`prefill`).
The use case itself — attach the answers to the case and decide it again at once — is
`CaseService.attach_worksheet` (server/cases).

Answers are keyed by the Questionnaire's linkIds (server/hooks/questionnaires.py):
`diagnosis.stage`, `diagnosis.setting`, `diagnosis.line`, `diagnosis.ecog`, `diagnosis.egfr`, `diagnosis.menopause`, `biomarkers.<KEY>`
(positive | negative | equivocal | not-tested) with `biomarkers.<KEY>.value`, `regimen.start`,
`supportive.fn-risk-factors`, `trial`, `history.prior-lines`, `history.last-dose-drug` with
`history.last-dose`, `history.progression`, `history.response`, `history.transplant`, `attest.<key>`
(yes / no to a label criterion). A blank answer changes nothing; "not tested" keeps what
the record says. No framework imports.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import date, datetime

from server.domain.order import (ATTEST_PREFIX, IHC_SCORE, YES_NO, Biomarker, BiomarkerResult, Code, LineOfTherapy, Order,
                                 PriorCourse, Setting, read_attestations)
from server.errors import BadRequest, Issue
from server.hooks.questionnaires import questionnaire_id

_RESULTS = {"positive": BiomarkerResult.POSITIVE, "negative": BiomarkerResult.NEGATIVE,
            "equivocal": BiomarkerResult.EQUIVOCAL}
_SETTINGS = {s.value: s for s in Setting if s is not Setting.UNKNOWN}
_LINES = {x.value: x for x in LineOfTherapy if x is not LineOfTherapy.UNKNOWN}
_NCT = re.compile(r"^NCT\d{8}$")
_MENOPAUSE = {"postmenopausal": "postmenopausal", "premenopausal": "premenopausal"}
_TRANSPLANT = {"eligible": "eligible", "ineligible": "ineligible"}


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
    if answers.get("diagnosis.egfr"):
        try:
            value = float(answers["diagnosis.egfr"])
        except ValueError:
            raise _bad("diagnosis.egfr", "the eGFR is a number (mL/min/1.73 m2)") from None
        if not 0 < value < 200:
            raise _bad("diagnosis.egfr", "the eGFR is a number from 1 to 199 (mL/min/1.73 m2)")
        changes["egfr"] = value
    if answers.get("history.transplant"):
        changes["transplant"] = _pick(_TRANSPLANT, answers["history.transplant"], "history.transplant")
    attested = _attested(order, answers)
    if attested != order.attested:
        changes["attested"] = attested
    if answers.get("diagnosis.menopause"):
        changes["menopause"] = _pick(_MENOPAUSE, answers["diagnosis.menopause"], "diagnosis.menopause")
    if "regimen.start" in answers:
        changes["treatment_start"] = _date(answers["regimen.start"], "regimen.start", "the treatment start")
    if "trial" in answers:
        nct = answers["trial"].upper()
        if not _NCT.match(nct):
            raise _bad("trial", "a clinical trial is named by its NCT number (NCT followed by 8 digits)")
        changes["clinical_trial_nct"] = nct
    changes.update(_history(order, answers))
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


# A prior drug named on the worksheet: its name is the display the engine resolves (as for an
# RxNorm product the knowledge base does not hold), under a system of our own.
WORKSHEET_DRUG = "urn:oncopath:worksheet:drug"


def _history(order: Order, answers: dict[str, str]) -> dict:
    out: dict = {}
    lines = answers.get("history.prior-lines")
    if lines:
        if not lines.isdigit() or int(lines) > 20:
            raise _bad("history.prior-lines", "the number of prior lines is a whole number from 0 to 20")
        out["prior_line_count"] = int(lines)
    drug, last = answers.get("history.last-dose-drug", "").strip(), answers.get("history.last-dose")
    if last:
        if not drug:
            raise _bad("history.last-dose-drug", "name the prior drug whose last dose is given")
        day = _date(last, "history.last-dose")
        out["prior_courses"] = order.prior_courses + (PriorCourse((Code(WORKSHEET_DRUG, drug[:60], drug[:60]),), day),)
    if answers.get("history.response"):
        out["responses"] = tuple(sorted({*order.responses, _date(answers["history.response"], "history.response")}))
    if answers.get("history.progression"):
        out["progressions"] = tuple(sorted({*order.progressions,
                                            _date(answers["history.progression"], "history.progression")}))
    return out


def _attested(order: Order, answers: dict[str, str]) -> tuple[tuple[str, bool], ...]:
    """The record's attestations with the worksheet's answers over them (yes / no; blank keeps)."""
    found, unreadable = read_attestations(answers)
    if unreadable:
        raise _bad(unreadable[0], f"{unreadable[0]}: answer yes or no")
    return tuple(sorted({**dict(order.attested), **found}.items()))


def _date(value: str, link_id: str, what: str | None = None) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(link_id, f"{what or link_id} must be a date (YYYY-MM-DD)") from None


def questionnaire_response(order_id: str, cancer_type: str | None, answers: dict[str, str], now: datetime) -> dict:
    """The worksheet as FHIR: answers only, no patient identifiers (the case holds those)."""
    items = []
    for link_id, value in sorted(answers.items()):
        if link_id.startswith("biomarkers.") and link_id.count(".") == 1:
            answer = {"valueCoding": {"code": value.lower().replace(" ", "-"), "display": value}}
        elif link_id == "diagnosis.ecog" and value.isdigit():
            answer = {"valueInteger": int(value)}
        elif link_id in ("regimen.start", "history.last-dose", "history.progression", "history.response"):
            answer = {"valueDate": value}
        elif link_id == "history.prior-lines" and value.isdigit():
            answer = {"valueInteger": int(value)}
        elif link_id.startswith(ATTEST_PREFIX) and value.strip().lower() in YES_NO:
            answer = {"valueBoolean": YES_NO[value.strip().lower()]}
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
    if order.menopause:
        out["diagnosis.menopause"] = order.menopause
    if order.transplant:
        out["history.transplant"] = order.transplant
    if order.egfr is not None:
        out["diagnosis.egfr"] = f"{order.egfr:g}"
    for key, yes in order.attested:
        out[ATTEST_PREFIX + key] = "true" if yes else "false"
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
    if order.prior_line_count is not None:
        out["history.prior-lines"] = str(order.prior_line_count)
    if order.progressions:
        out["history.progression"] = order.progressions[-1].isoformat()
    return out


def _detail_words(b: Biomarker) -> str | None:
    """'IHC 3+', 'NGS L858R', '60 %': how the form shows a result's method, variant and value."""
    if b.unit == IHC_SCORE:
        return b.value_words          # "IHC 1+", not "IHC 1 IHC score"
    text = " ".join(x for x in (b.method if b.method != "worksheet" else None, b.variant,
                                b.value_words or None) if x)
    return text or None


def _pick(table: dict, value: str, link_id: str):
    found = table.get(value) or table.get(value.lower())
    if found is None:
        raise _bad(link_id, f"{link_id}: one of {', '.join(table)}")
    return found


def _bad(link_id: str, text: str) -> BadRequest:
    return BadRequest(Issue("value", text, expression=[link_id]))
