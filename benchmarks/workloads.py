"""Request bodies of the HTTP workloads, as templates with a `__UNIQ__` placeholder.

The load client (wrk + benchmarks/wrk/post.lua) replaces every `__UNIQ__` with a value unique
to the request, so that each order-sign call is a new hookInstance for a new member (a new
case, no duplicate history) and each `Claim/$submit` a new Claim identifier for a new member.

- order-sign: a 6-drug regimen (mFOLFOX6 + bevacizumab + ondansetron) with 30 prefetch
  resources, in three mixes: on pathway (authorized), pended (line of therapy not reported)
  and off pathway (irinotecan for oxaliplatin, cetuximab for bevacizumab in a KRAS-mutant
  patient: a custom plan, pended, with on-pathway alternatives).
- Claim/$submit: the THP PAS Bundle (3 items), unique Claim and Bundle identifiers and member.
- Claim/$inquire: the inquiry Bundle for a member with a case on file (seeded before the run).
- case-mix: order-sign calls drawn from the scenario corpus (tests/scenarios), one scenario of
  each kind by the corpus's own expectations: on pathway, pended, off pathway (off-label),
  oral (pharmacy benefit) and out of program, in turn; each a new hookInstance and member.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIQ = "__UNIQ__"
SIGN_PATH = "/cds-services/oncopath-order-sign"
SUBMIT_PATH = "/fhir/Claim/$submit"
INQUIRE_PATH = "/fhir/Claim/$inquire"
FLOOR_PATH = "/__floor"

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _hook_request_builder():
    hooks_dir = str(REPO / "fixtures" / "hooks")
    if hooks_dir not in sys.path:
        sys.path.insert(0, hooks_dir)
    from build import hook_request  # fixtures/hooks/build.py
    return hook_request


def _load(rel: str) -> dict:
    return json.loads((REPO / rel).read_text())


def _ondansetron(subject: dict) -> dict:
    return {"resourceType": "MedicationRequest", "id": "ondansetron", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "26225", "display": "ondansetron"}],
                                          "text": "ondansetron 8 mg IV day 1"},
            "subject": subject,
            "dosageInstruction": [{"text": "ondansetron 8 mg IV day 1 of each cycle",
                                   "doseAndRate": [{"doseQuantity": {"value": 8, "unit": "mg",
                                                                     "system": "http://unitsofmeasure.org",
                                                                     "code": "mg"}}]}]}


def routine_lab(i: int, subject: dict) -> dict:
    """A CBC result the decision never reads (realistic prefetch bulk)."""
    return {"resourceType": "Observation", "id": f"cbc-{i}", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2",
                                 "display": "Leukocytes [#/volume] in Blood by Automated count"}]},
            "subject": subject, "effectiveDateTime": f"2026-10-{(i % 28) + 1:02d}",
            "valueQuantity": {"value": 5.1 + i / 10, "unit": "10*3/uL", "system": "http://unitsofmeasure.org",
                              "code": "10*3/uL"}}


def prefetch_count(req: dict) -> int:
    n = 0
    for value in req["prefetch"].values():
        if isinstance(value, dict):
            n += len(value.get("entry", [])) if value.get("resourceType") == "Bundle" else 1
    return n


def _colorectal(mix: str) -> dict:
    bundle = _load("fixtures/bundles/colorectal-folfox-bevacizumab.json")
    if mix == "pended":
        # Line of therapy not reported: a deviation that pends the case for review (R5).
        bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] != "line-of-therapy"]
    elif mix == "off-pathway":
        # Oxaliplatin swapped for irinotecan and bevacizumab for cetuximab: no pathway regimen.
        for e in bundle["entry"]:
            r = e["resource"]
            if r["resourceType"] == "MedicationRequest" and r["id"] == "oxaliplatin":
                r["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": "51499",
                                                              "display": "irinotecan"}], "text": "irinotecan"}
            if r["resourceType"] == "MedicationRequest" and r["id"] == "bevacizumab":
                r["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": "318341",
                                                              "display": "cetuximab"}], "text": "cetuximab"}
    return bundle


def order_sign(mix: str = "on-pathway", prefetch: int = 30, *, instance: str = UNIQ,
               member: str | None = UNIQ) -> dict:
    """An order-sign call: six draft orders and `prefetch` prefetch resources."""
    bundle = _colorectal(mix)
    subject = next(e["resource"]["subject"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "MedicationRequest")
    req = _hook_request_builder()(bundle, "order-sign", instance, extra_drafts=[_ondansetron(subject)])
    if member is not None:
        for e in req["prefetch"]["coverage"]["entry"]:
            if e["resource"]["resourceType"] == "Coverage":
                e["resource"]["subscriberId"] = f"BENCH-{member}"
    labs = req["prefetch"]["labs"]
    i = 0
    while prefetch_count(req) < prefetch:
        labs["entry"].append({"resource": routine_lab(i, subject)})
        i += 1
    labs["total"] = len(labs["entry"])
    assert len(req["context"]["draftOrders"]["entry"]) == 6
    assert prefetch_count(req) == max(prefetch, prefetch_count(req))
    return req


def pas_submit(*, unique: str = UNIQ) -> dict:
    """The THP PAS request Bundle with its Claim identifier, Bundle identifier and member unique."""
    bundle = _load("fixtures/pas/thp-her2-positive.json")
    bundle["identifier"]["value"] = f"T-{unique}"
    claim = bundle["entry"][0]["resource"]
    claim["identifier"][0]["value"] = f"C-{unique}"
    text = json.dumps(bundle).replace("MA-100200300", f"MA-{unique}")
    return json.loads(text)


def pas_inquiry() -> dict:
    """The inquiry for the fixture member (MA-100200300): the case it finds is seeded first."""
    return _load("fixtures/pas/inquiry-riverside.json")


def pas_seed() -> dict:
    """The submission the inquiry finds (the fixture's own Claim, member MA-100200300)."""
    return _load("fixtures/pas/thp-her2-positive.json")


def floor_body() -> dict:
    """The floor parses the same body as order-sign (on pathway)."""
    return order_sign("on-pathway")


def concrete(template: dict, value: str) -> dict:
    return json.loads(json.dumps(template).replace(UNIQ, value))


def body_bytes(template: dict) -> bytes:
    return json.dumps(template, separators=(",", ":")).encode()


ORDER_SIGN_MIXES = ("on-pathway", "pended", "off-pathway")
CASE_MIX = ("on-pathway", "pended", "off-pathway", "oral", "out-of-program")


def _scenario_kind(sc: dict, oral_drugs: set[str]) -> str | None:
    """The kind of a scenario by the corpus's expectations (not by the knowledge base)."""
    expect = sc.get("expect") or {}
    if expect.get("in_program") is False:
        return "out-of-program"
    if any(line.get("drug") in oral_drugs for line in sc.get("order") or []):
        return "oral"
    if sc.get("off_label"):
        return "off-pathway"
    if expect.get("on_pathway") is True and expect.get("case_status") == "Authorized":
        return "on-pathway"
    if expect.get("case_status") == "In Progress":
        return "pended"
    return None


def case_mix() -> list[tuple[str, dict]]:
    """(kind, order-sign template) for each kind of CASE_MIX: the first scenario of that kind in
    the corpus's file order, its hookInstance and member id made unique per request."""
    tests_dir = str(REPO / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    import yaml
    from scenarios import build   # tests/scenarios/build.py

    catalog = yaml.safe_load((REPO / "tests" / "scenarios" / "catalog.yaml").read_text())
    oral = {name for name, d in (catalog.get("drugs") or {}).items() if (d or {}).get("route") == "po"}
    chosen: dict[str, dict] = {}
    for sc in build.load_scenarios():
        kind = _scenario_kind(sc, oral)
        if kind and kind not in chosen:
            chosen[kind] = sc
    # The corpus is written for a request on 2026-11-20 (tests/scenarios/doors.py NOW): every date
    # moves by the days since, so a served request (wall clock) sees the same timeline.
    import re
    from datetime import date, timedelta

    shift = timedelta(days=(date.today() - date(2026, 11, 20)).days)

    def moved(match: re.Match) -> str:
        return (date.fromisoformat(match.group(0)) + shift).isoformat()

    out = []
    for kind in CASE_MIX:
        sc = chosen[kind]
        hook, _ = build.requests_for(sc)
        hook["hookInstance"] = f"mix-{kind}-{UNIQ}"
        member = build._member_id(sc["id"])
        text = re.sub(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])", moved, json.dumps(hook))
        out.append((kind, json.loads(text.replace(member, f"{member}-{UNIQ}"))))
    return out
