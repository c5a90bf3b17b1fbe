"""Checks for what we send: CDS Hooks 2.0 response shape and CRD coverage-information q1–q9.

Used by the tests on every response, and cheap enough to run in development.
"""
from __future__ import annotations

import re

from cards.codes import CARD_TYPE_SYSTEM, COVERAGE_INFORMATION_URL, CRD_REASON_CODES, CRD_TEMP_SYSTEM
from cards.context import words_of

COVERED = {"covered", "not-covered", "conditional", "indeterminate"}
PA_NEEDED = {"no-auth", "auth-needed", "satisfied", "performpa", "conditional", "indeterminate"}
DOC_NEEDED = {"clinical", "admin", "patient", "conditional", "indeterminate"}
DOC_PURPOSE = {"withpa", "withclaim", "withorder", "retain-doc", "OTH"}
INFO_NEEDED = {"performer", "location", "timeframe", "contract-window", "detail-code", "OTH"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A resource id in words meant for a clinician ("MedicationRequest/request-123").
RESOURCE_ID = re.compile(r"\b(?:MedicationRequest|ServiceRequest|DeviceRequest|NutritionOrder|Coverage|Patient|"
                         r"Practitioner|PractitionerRole|Organization|Condition|Observation)/[\w.\-]+")


def coverage_information_problems(ext: dict, *, primary_hook: bool = True) -> list[str]:
    subs = ext.get("extension") or []
    by: dict[str, list] = {}
    for s in subs:
        by.setdefault(s.get("url"), []).append(s)

    def codes(name):
        return [s.get("valueCode") for s in by.get(name, [])]

    out: list[str] = []
    for name in ("coverage", "covered", "date", "coverage-assertion-id"):
        if len(by.get(name, [])) != 1:
            out.append(f"{name} must occur exactly once")
    for name in ("pa-needed", "satisfied-pa-id", "expiry-date"):
        if len(by.get(name, [])) > 1:
            out.append(f"{name} occurs more than once")
    if not all(c in COVERED for c in codes("covered")):
        out.append("covered code not in the value set")
    if not all(c in PA_NEEDED for c in codes("pa-needed")):
        out.append("pa-needed code not in the value set")
    if not all(c in DOC_NEEDED for c in codes("doc-needed")):
        out.append("doc-needed code not in the value set")
    if not all(c in DOC_PURPOSE for c in codes("doc-purpose")):
        out.append("doc-purpose code not in the value set")
    if not all(c in INFO_NEEDED for c in codes("info-needed")):
        out.append("info-needed code not in the value set")
    for s in by.get("date", []) + by.get("expiry-date", []):
        if not _DATE.match(str(s.get("valueDate", ""))):
            out.append(f"{s.get('url')} is not a FHIR date")
    for s in by.get("coverage", []):
        ref = s.get("valueReference")
        if not isinstance(ref, dict) or not ("Coverage/" in str(ref.get("reference", "")) or ref.get("display")):
            out.append("coverage must reference a Coverage")
    reasons = by.get("reason", [])
    pa = codes("pa-needed")
    covered = codes("covered")
    # q1: questionnaire requires doc-needed
    if by.get("questionnaire") and not by.get("doc-needed"):
        out.append("q1: questionnaire without doc-needed")
    # q2: not-covered forbids pa-needed
    if "not-covered" in covered and pa:
        out.append("q2: not-covered with pa-needed")
    # q3: any conditional requires info-needed
    if "conditional" in covered + pa + codes("doc-needed") and not by.get("info-needed"):
        out.append("q3: conditional without info-needed")
    # q4: no withpa when PA is satisfied or not needed
    if (set(pa) & {"satisfied", "no-auth"} or "not-covered" in covered) and "withpa" in codes("doc-purpose"):
        out.append("q4: doc-purpose withpa while no PA is needed")
    # q5: satisfied-pa-id iff satisfied
    if ("satisfied" in pa) != bool(by.get("satisfied-pa-id")):
        out.append("q5: satisfied-pa-id present iff pa-needed is satisfied")
    # q6: info-needed OTH requires reason
    if "OTH" in codes("info-needed") and not reasons:
        out.append("q6: info-needed OTH without reason")
    # q7: a reason outside CRD's value set needs text
    for r in reasons:
        cc = r.get("valueCodeableConcept") or {}
        in_vs = any(c.get("system") == CRD_TEMP_SYSTEM and c.get("code") in CRD_REASON_CODES
                    for c in cc.get("coding") or [])
        if not in_vs and not cc.get("text"):
            out.append("q7: reason outside the value set without text")
    # q8: doc-purpose other than conditional requires reason
    if any(c != "conditional" for c in codes("doc-purpose")) and not reasons:
        out.append("q8: doc-purpose without reason")
    # q9: indeterminate requires reason
    if "indeterminate" in covered + pa + codes("doc-needed") and not reasons:
        out.append("q9: indeterminate without reason")
    # CRD hook-19: secondary hooks (order-select) never ask for clinical/admin documentation
    if not primary_hook and set(codes("doc-needed")) & {"clinical", "admin"}:
        out.append("hook-19: clinical/admin doc-needed on a secondary hook")
    for d in by.get("detail", []):
        names = {e.get("url") for e in d.get("extension") or []}
        if not {"category", "code", "value"} <= names:
            out.append("detail needs category, code and value")
    return out


def response_problems(body: dict, *, hook: str = "order-sign") -> list[str]:
    """CDS Hooks 2.0 response shape, CRD card rules, and q1–q9 on every coverage-information."""
    out: list[str] = []
    if not isinstance(body.get("cards"), list):
        return ["cards must be an array"]
    # The orders' words, from the drafts the systemActions carry (CRD dev-24/25: detail names
    # each order in words; a resource id is not words).
    named = {f"{r.get('resourceType')}/{r.get('id')}": words_of(r) for a in body.get("systemActions") or []
             if isinstance(r := a.get("resource"), dict) and r.get("id")}
    for i, card in enumerate(body["cards"]):
        where = f"cards[{i}]"
        summary = card.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) >= 140:
            out.append(f"{where}.summary must be a string under 140 characters")
        elif summary.endswith("…"):
            out.append(f"{where}.summary is cut short")
        if card.get("indicator") not in ("info", "warning", "critical"):
            out.append(f"{where}.indicator invalid")
        source = card.get("source") or {}
        if not source.get("label"):
            out.append(f"{where}.source.label required")
        topic = source.get("topic") or {}
        if topic.get("system") != CARD_TYPE_SYSTEM or not topic.get("code"):
            out.append(f"{where}.source.topic must be a cdshooks-card-type Coding")
        if not card.get("uuid"):
            out.append(f"{where}.uuid required")
        assoc = (card.get("extension") or {}).get("davinci-crd.associated-resource")
        if not assoc or not all(isinstance(a, dict) and a.get("reference") for a in assoc):
            out.append(f"{where} must name its orders in davinci-crd.associated-resource")
        elif not all(named.get(a["reference"], "") in (card.get("detail") or "") for a in assoc):
            out.append(f"{where}.detail must name its orders in words")
        for text in (summary or "", card.get("detail") or "", *[s.get("label", "") for s in card.get("suggestions") or []]):
            if RESOURCE_ID.search(str(text)):
                out.append(f"{where} shows a resource id to the clinician")
                break
        suggestions = card.get("suggestions") or []
        if suggestions and card.get("selectionBehavior") not in ("at-most-one", "any"):
            out.append(f"{where}.selectionBehavior required with suggestions")
        for j, s in enumerate(suggestions):
            if not s.get("label") or not s.get("uuid"):
                out.append(f"{where}.suggestions[{j}] needs label and uuid")
            for a in s.get("actions") or []:
                out += _action_problems(a, f"{where}.suggestions[{j}]")
        for j, link in enumerate(card.get("links") or []):
            if not link.get("label") or not link.get("url") or link.get("type") not in ("absolute", "smart"):
                out.append(f"{where}.links[{j}] needs label, url and type")
            if link.get("type") == "absolute" and not str(link.get("url")).startswith(("http://", "https://")):
                out.append(f"{where}.links[{j}] must be an absolute URL")
        for j, r in enumerate(card.get("overrideReasons") or []):
            if not (r.get("system") and r.get("code") and r.get("display")):
                out.append(f"{where}.overrideReasons[{j}] needs system, code and display")
    for i, action in enumerate(body.get("systemActions") or []):
        out += _action_problems(action, f"systemActions[{i}]")
        resource = action.get("resource") or {}
        infos = [e for e in resource.get("extension") or [] if e.get("url") == COVERAGE_INFORMATION_URL]
        if action.get("type") == "update" and len(infos) != 1:
            out.append(f"systemActions[{i}] must carry one coverage-information extension")
        for e in infos:
            out += [f"systemActions[{i}]: {p}" for p in
                    coverage_information_problems(e, primary_hook=hook == "order-sign")]
    return out


def _action_problems(action: dict, where: str) -> list[str]:
    out = []
    kind = action.get("type")
    if kind not in ("create", "update", "delete"):
        out.append(f"{where} action type invalid")
    if not action.get("description"):
        out.append(f"{where} action needs a description")
    if kind == "delete" and not action.get("resourceId"):
        out.append(f"{where} delete needs resourceId")
    if kind in ("create", "update") and not isinstance(action.get("resource"), dict):
        out.append(f"{where} {kind} needs a resource")
    return out
