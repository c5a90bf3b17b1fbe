"""The program's worksheet answered in the EHR (a DTR QuestionnaireResponse to one of our
Questionnaires), read like the rest of the record when it comes with a request: as a hook
prefetch entry or as an entry of a PAS Bundle. Only completed (or amended) responses to our own
worksheet count; raw JSON is read, so unrelated responses are never validated.
"""
from __future__ import annotations

from mappings.fhir import arr, obj, table
from server.domain.order import read_attestations


def worksheet_answers(raw: dict) -> dict[str, str]:
    """linkId -> answer (a coding's code, else the string / boolean / date as text)."""
    cfg = table("clinical")["worksheet"]
    questionnaire = raw.get("questionnaire")
    if raw.get("status") not in ("completed", "amended") or not isinstance(questionnaire, str) \
            or cfg["questionnaire_prefix"] not in questionnaire:
        return {}
    out: dict[str, str] = {}
    _collect(arr(raw.get("item")), out)
    return out


def _collect(items: list, out: dict[str, str]) -> None:
    for item in items:
        item = obj(item)
        link = item.get("linkId")
        for answer in arr(item.get("answer")):
            value = _text(obj(answer))
            if isinstance(link, str) and value is not None:
                out.setdefault(link, value)
            _collect(arr(obj(answer).get("item")), out)
        _collect(arr(item.get("item")), out)


def _text(answer: dict) -> str | None:
    coding = obj(answer.get("valueCoding"))
    if isinstance(coding.get("code"), str):
        return coding["code"]
    for key in ("valueString", "valueDate", "valueInteger", "valueBoolean"):
        if key in answer and answer[key] is not None:
            value = answer[key]
            return ("true" if value else "false") if isinstance(value, bool) else str(value)
    return None


def transplant_candidacy(answers: dict[str, str]) -> str | None:
    """"eligible" / "ineligible" for autologous stem cell transplant, as the worksheet attests."""
    cfg = table("clinical")["worksheet"]["transplant"]
    return cfg["answers"].get((answers.get(cfg["link_id"]) or "").strip().lower())


def attestations(answers: dict[str, str]) -> tuple[tuple[str, bool], ...]:
    """(key, yes / no) for every label criterion the worksheet attests (linkId attest.<key>);
    an answer that is neither is not read."""
    return tuple(sorted(read_attestations(answers)[0].items()))
