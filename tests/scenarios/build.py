"""The clinical scenario corpus: load the YAML scenarios and render each one into the two
requests oncopath serves — a CDS Hooks order-sign call and a Da Vinci PAS Claim/$submit Bundle —
expressing the same clinical facts.

    .venv/bin/python tests/scenarios/build.py nsclc-pembrolizumab-tps-0 hook   # print one request
    .venv/bin/python tests/scenarios/build.py --list                          # ids and titles

A scenario is rendered first into a *collection Bundle* of the patient's record plus the draft
MedicationRequests (the shape of fixtures/bundles/); `hook_request` and `pas_bundle` turn any such
Bundle into the two door requests, so the fixtures' Bundles go through the same adapter
(tests/test_door_parity.py). Codes come from catalog.yaml, never from the knowledge base.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from datetime import date
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NDC = "http://hl7.org/fhir/sid/ndc"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
NPI = "http://hl7.org/fhir/sid/us-npi"
HGNC = "http://www.genenames.org"
UCUM = "http://unitsofmeasure.org"
X12 = "https://codesystem.x12.org/005010/"
PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
OCPA = "http://hl7.org/fhir/us/codex-ocpa/CodeSystem/ocpa-codes"
LINE_CS = "http://hl7.org/fhir/us/codex-ocpa/CodeSystem/treatment-line-cs"
DAYS_EXT = "http://hl7.org/fhir/us/codex-ocpa/StructureDefinition/regimen-days-of-cycle"
NETWORK_EXT = "http://oncopath.example.org/fhir/StructureDefinition/network-status"
DRUG_ROLE = "http://oncopath.example.org/fhir/CodeSystem/drug-role"   # README: investigational drugs
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
BASE = "http://clinic.example.org/fhir/"

CLINIC_NPI = "1245319599"        # the fixtures' clinic and oncologist (Luhn-valid demo NPIs)
ONCOLOGIST_NPI = "1234567893"
PAYER_NPI = "1987654328"
CLAIM_SYSTEM = f"urn:trnorg:{CLINIC_NPI}"
TIMESTAMP = "2026-11-20T14:00:00Z"   # the clock the runner pins; treatment starts 2026-12-01
START = "2026-12-01"
LINES = {"1L": "1L", "2L": "2L", "3L+": "3L-plus", "maintenance": "maintenance"}
ROUTES = {"iv": ("47625008", "Intravenous route"),   # SNOMED, fixtures/bundles [V]
          "po": ("26643006", "Oral route")}        # SNOMED, FHIR dosage examples in public IGs [V2]

CATALOG = yaml.safe_load((HERE / "catalog.yaml").read_text())
# More codes per cancer type in catalog.d/<type>.yaml (same sections, merged; a key defined twice with different codes is an error)
for _extra in sorted((HERE / "catalog.d").glob("*.yaml")):
    for _section, _entries in (yaml.safe_load(_extra.read_text()) or {}).items():
        _into = CATALOG.setdefault(_section, {})
        if isinstance(_entries, dict):
            _twice = sorted(k for k in set(_into) & set(_entries) if _into[k] != _entries[k])   # same codes twice is fine
            if _twice:
                raise ValueError(f"{_extra.name}: {_section} {_twice} already defined")
            _into.update(_entries)


# ------------------------------------------------------------------------------- loading

def scenario_files() -> list[Path]:
    return sorted(p for p in HERE.glob("*.yaml") if p.name != "catalog.yaml")


def load_scenarios() -> list[dict]:
    out: list[dict] = []
    for path in scenario_files():
        doc = yaml.safe_load(path.read_text()) or {}
        defaults = doc.get("defaults") or {}
        for sc in doc.get("scenarios") or []:
            merged = copy.deepcopy(defaults)
            for key, value in sc.items():
                if key == "patient" and isinstance(value, dict):
                    merged.setdefault("patient", {}).update(copy.deepcopy(value))
                else:
                    merged[key] = copy.deepcopy(value)
            merged["file"] = path.name
            out.append(merged)
    ids = [s["id"] for s in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate scenario ids: {sorted(dupes)}")
    return out


def is_off_label(sc: dict) -> bool:
    return bool(sc.get("off_label"))


# ------------------------------------------------------------------------------- resources

def coded(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    out = {"coding": [c]}
    if text:
        out["text"] = text
    return out


def _ref(resource: dict) -> dict:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def _fhir_id(text: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from a drug name."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")[:64]


def _member_id(sc_id: str) -> str:
    return "SC" + hashlib.sha1(sc_id.encode()).hexdigest()[:10].upper()


def _category(code: str) -> list[dict]:
    return [coded(OBS_CAT, code)]


def _coverages(lob: str, member_id: str, patient: dict, payer: dict) -> list[dict]:
    kinds = {
        "medicare-advantage": [("https://nahdo.org/sopt", "111", "Medicare HMO", "Medicare Advantage")],
        "commercial-ppo": [("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PPO",
                            "preferred provider organization policy", "Commercial PPO")],
        "commercial-hmo": [("http://terminology.hl7.org/CodeSystem/v3-ActCode", "HMO",
                            "health maintenance organization policy", "Commercial HMO")],
        "medicaid": [("http://terminology.hl7.org/CodeSystem/v3-ActCode", "MCAID", "medicaid", "Medicaid")],
        # dual-eligible: the member holds both a Medicare Advantage and a Medicaid Coverage.
        "dual-medicare-medicaid": [("https://nahdo.org/sopt", "111", "Medicare HMO", "Medicare Advantage"),
                                   ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "MCAID", "medicaid",
                                    "Medicaid")],
    }[lob]
    out = []
    for i, (system, code, display, text) in enumerate(kinds):
        out.append({
            "resourceType": "Coverage", "id": f"coverage-{i + 1}", "status": "active",
            "extension": [{"url": NETWORK_EXT, "valueCode": "in-network"}],
            "type": coded(system, code, display, text),
            "subscriberId": member_id if i == 0 else member_id + "-MCD",
            "beneficiary": _ref(patient),
            "relationship": coded("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self"),
            "period": {"start": "2026-01-01", "end": "2026-12-31"},
            "payor": [dict(_ref(payer), display=payer["name"])],
        })
    return out


def _observation(oid: str, patient: dict, code: dict, category: str, effective: str, **value) -> dict:
    obs = {"resourceType": "Observation", "id": oid, "status": "final", "category": _category(category),
           "code": code, "subject": _ref(patient), "effectiveDateTime": effective}
    obs.update(value)
    return obs


def _biomarker(i: int, spec: dict, patient: dict, condition: dict) -> dict:
    """One tumor-marker or genomic-variant Observation from a scenario biomarker line."""
    oid = f"biomarker-{i + 1}"
    effective = spec.get("date", "2026-10-20")
    answers = CATALOG["answers"]
    if "gene" in spec:                                  # mCODE GenomicVariant
        gene = spec["gene"]
        comps = [{"code": coded(LOINC, "48018-6", "Gene studied [ID]"),
                  "valueCodeableConcept": coded(HGNC, CATALOG["genes"][gene], gene)}]
        if spec.get("protein"):
            comps.append({"code": coded(LOINC, "48005-3", "Amino acid change (pHGVS)"),
                          "valueCodeableConcept": coded("http://varnomen.hgvs.org", spec["protein"])})
        if spec.get("variant_text"):
            comps.append({"code": coded(LOINC, "81252-9", "Discrete genetic variant"),
                          "valueCodeableConcept": {"text": spec["variant_text"]}})
        a = answers["present" if spec.get("result", "present") in ("present", "detected") else "absent"]
        obs = _observation(oid, patient, coded(LOINC, "69548-6", "Genetic variant assessment"), "laboratory",
                           effective, valueCodeableConcept=coded(LOINC, a["code"], a["display"]))
        obs["meta"] = {"profile": [MCODE + "mcode-genomic-variant"]}
        obs["component"] = comps
        obs["focus"] = [_ref(condition)]
        return obs
    if "loinc" in spec:
        code = coded(LOINC, spec["loinc"], spec.get("display"))
        marker = {}
    else:
        marker = CATALOG["markers"][spec["marker"]]
        code = (coded(LOINC, marker["loinc"], marker["display"]) if marker.get("loinc")
                else {"text": marker["text"]})
    obs = _observation(oid, patient, code, "laboratory", effective)
    obs["meta"] = {"profile": [MCODE + "mcode-tumor-marker-test"]}
    if marker.get("immunophenotype"):
        # as the mCODE example writes a panel: US Core lab result, the antigens in a valueString
        obs["meta"] = {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]}
        obs["valueString"] = f"{spec['result']} for {spec['marker']}"
    elif "percent" in spec:
        obs["valueQuantity"] = {"value": spec["percent"], "unit": "%", "system": UCUM, "code": "%"}
    elif "score" in spec:
        obs["valueQuantity"] = {"value": spec["score"], "unit": "{score}", "system": UCUM, "code": "{score}"}
    elif "text" in spec:
        obs["valueCodeableConcept"] = {"text": spec["text"]}
    elif "string" in spec:
        obs["valueString"] = spec["string"]
    else:
        a = answers[spec["result"]]
        obs["valueCodeableConcept"] = coded(LOINC, a["code"], a["display"])
    return obs


def _dosage(line: dict, drug: dict) -> dict:
    repeat: dict = {"boundsPeriod": {"start": line.get("start", START)}, "frequency": line.get("per_day", 1),
                    "period": line["cycle_days"], "periodUnit": "d"}
    text = f"{line['drug']} {line['dose']} {line['unit']} every {line['cycle_days']} days"
    if line.get("until_progression"):
        text += " until disease progression"
    elif line.get("cycles"):
        repeat["count"] = line["cycles"]
        text += f" for {line['cycles']} cycles"
    timing: dict = {"repeat": repeat}
    days = line.get("days", [1])
    if isinstance(days, str):          # "1-21": every day of the range
        lo, hi = (int(x) for x in days.split("-"))
        days = list(range(lo, hi + 1))
    timing["extension"] = [{"url": DAYS_EXT, "extension": [{"url": "day", "valueInteger": d} for d in days]}]
    # With the days-of-cycle extension `frequency` counts administrations per cycle: twice a day on
    # each listed day is 2 x the number of days (mappings/timing.py), not 2.
    repeat["frequency"] = line.get("per_day", 1) * len(days)
    dosage = {"text": text, "timing": timing,
              "doseAndRate": [{"doseQuantity": {"value": line["dose"], "unit": line["unit"], "system": UCUM,
                                                "code": line["unit"]}}]}
    route = ROUTES.get(line.get("route") or drug.get("route"))
    if route:
        dosage["route"] = coded(SNOMED, *route)
    return dosage


def drug_codes(line: dict) -> list[dict]:
    """The codings a draft order carries: the catalog's RxNorm and HCPCS (or `codes` as sent)."""
    if "codes" in line:
        systems = {"rxnorm": RXNORM, "hcpcs": HCPCS, "ndc": NDC}
        return [{"system": systems[c["system"]], "code": c["code"], **({"display": c["display"]} if "display" in c else {})}
                for c in line["codes"]]
    drug = CATALOG["drugs"][line["drug"]]
    out = []
    if drug.get("rxnorm"):
        out.append({"system": RXNORM, "code": drug["rxnorm"], "display": line["drug"]})
    if drug.get("hcpcs"):
        out.append({"system": HCPCS, "code": drug["hcpcs"], "display": line["drug"]})
    if drug.get("ndc"):
        out.append({"system": NDC, "code": drug["ndc"], "display": line["drug"]})
    return out


def _medication_request(line: dict, patient: dict, practitioner: dict, condition: dict, intent: str | None,
                        *, status: str = "draft") -> dict:
    drug = CATALOG["drugs"].get(line["drug"], {})
    role = line.get("role", drug.get("role", "anti-cancer"))
    mr = {
        "resourceType": "MedicationRequest", "id": line.get("id") or _fhir_id(f"mr-{line['drug']}"),
        "meta": {"profile": [MCODE + "mcode-cancer-related-medication-request"]},
        "status": status, "intent": "order",
        "category": [coded(DRUG_ROLE if role == "investigational" else OCPA, role)],
        "medicationCodeableConcept": ({"coding": drug_codes(line)} if drug_codes(line) else {}) | {"text": line["drug"]},
        "subject": _ref(patient), "authoredOn": line.get("authored", "2026-11-20"),
        "requester": _ref(practitioner), "reasonReference": [_ref(condition)],
    }
    if intent:
        i = CATALOG["intents"][intent]
        mr["extension"] = [{"url": MCODE + "mcode-procedure-intent",
                            "valueCodeableConcept": coded(SNOMED, i["code"], i["display"])}]
    if status == "draft":
        # `then:` further dose segments of the same order (obinutuzumab cycle 1 days 1, 8, 15, then
        # day 1 of cycles 2-6), each a dosageInstruction placed by its own boundsPeriod.start
        mr["dosageInstruction"] = [_dosage(line, drug)] + [_dosage({**line, **seg}, drug) for seg in line.get("then") or []]
    return mr


def record_bundle(sc: dict) -> dict:
    """The scenario as a collection Bundle: the patient's record plus the draft orders."""
    p = sc["patient"]
    member_id = _member_id(sc["id"])
    patient = {"resourceType": "Patient", "id": "patient-1",
               "meta": {"profile": [MCODE + "mcode-cancer-patient"]},
               "identifier": [{"type": coded("http://terminology.hl7.org/CodeSystem/v2-0203", "MB"),
                               "system": "http://payer.example.org/member", "value": member_id}],
               "name": [{"family": "Scenario", "given": ["Test"]}],
               "gender": p.get("sex", "female"),
               "birthDate": f"{2026 - int(p.get('age', 64)) - 1}-12-15"}
    payer = {"resourceType": "Organization", "id": "payer", "active": True,
             "identifier": [{"system": NPI, "value": PAYER_NPI}],
             "type": [coded("http://terminology.hl7.org/CodeSystem/organization-type", "pay", "Payer")],
             "name": "Summit Health Plan"}
    network = p.get("network", "in-network")
    practitioner = {"resourceType": "Practitioner", "id": "oncologist",
                    "extension": [{"url": NETWORK_EXT, "valueCode": network}],
                    "identifier": [{"system": NPI, "value": ONCOLOGIST_NPI}],
                    "name": [{"family": "Oncologist", "given": ["Ada"]}],
                    "qualification": [{"code": coded("http://nucc.org/provider-taxonomy", "207RX0202X",
                                                     "Medical Oncology")}]}
    clinic = {"resourceType": "Organization", "id": "clinic", "active": True,
              "extension": [{"url": NETWORK_EXT, "valueCode": network}],
              "identifier": [{"system": NPI, "value": CLINIC_NPI}],
              "type": [coded("http://terminology.hl7.org/CodeSystem/organization-type", "prov",
                             "Healthcare Provider")],
              "name": "Riverside Infusion Center"}
    dx = p["diagnosis"]
    condition = {
        "resourceType": "Condition", "id": "primary-cancer",
        "meta": {"profile": [MCODE + "mcode-primary-cancer-condition"]},
        "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
        "verificationStatus": coded("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"),
        "category": [coded("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")],
        "code": coded(ICD10, dx["icd10"], dx.get("display")),
        "subject": _ref(patient), "onsetDateTime": "2026-09-15",
    }
    if not str(dx["icd10"]).startswith(("C", "D")):
        condition.pop("meta")
    if p.get("histology"):
        h = CATALOG["histology"][p["histology"]]
        if h.get("code"):
            value = coded(SNOMED, h["code"], h["display"])
            if h.get("icdo3"):
                value["coding"].append({"system": ICDO3, "code": h["icdo3"]})
        else:   # an ICD-O-3 morphology alone (no SNOMED code confirmed for it)
            value = {"coding": [{"system": ICDO3, "code": h["icdo3"], "display": h["display"]}],
                     "text": h["display"]}
        condition["extension"] = [{"url": MCODE + "mcode-histology-morphology-behavior",
                                   "valueCodeableConcept": value}]
    resources = [patient, *_coverages(p.get("coverage", "medicare-advantage"), member_id, patient, payer),
                 payer, practitioner, clinic, condition]
    for i, code in enumerate(p.get("secondary") or []):
        resources.append({
            "resourceType": "Condition", "id": f"secondary-{i + 1}",
            "meta": {"profile": [MCODE + "mcode-secondary-cancer-condition"]},
            "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
            "category": [coded("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")],
            "code": coded(ICD10, code), "subject": _ref(patient), "onsetDateTime": "2026-09-15"})
    if p.get("stage"):
        st = CATALOG["stages"].get(p["stage"])
        value = (coded(SNOMED, st["code"], st["display"]) if st
                 else {"text": p.get("stage_text") or f"AJCC stage {p['stage']}"})
        obs = _observation("stage-group", patient, coded(LOINC, "21908-9", "Stage group.clinical Cancer"),
                           "survey", "2026-10-20", valueCodeableConcept=value)
        obs["meta"] = {"profile": [MCODE + "mcode-tnm-stage-group"]}
        obs["focus"] = [_ref(condition)]
        resources.append(obs)
    if p.get("ecog") is not None:
        resources.append(_observation("ecog", patient, coded(LOINC, "89247-1", "ECOG Performance Status score"),
                                      "survey", "2026-11-18", valueInteger=int(p["ecog"])))
    if p.get("egfr") is not None:
        resources.append(_observation("egfr", patient, coded(LOINC, "98979-8",
                                      "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)"),
                                      "laboratory", "2026-11-10",
                                      valueQuantity={"value": p["egfr"], "unit": "mL/min/{1.73_m2}", "system": UCUM,
                                                     "code": "mL/min/{1.73_m2}"}))
    if p.get("menopause"):
        # menopausal status as the MII onkologie profile codes it (SNOMED CT 161712005, value set answers)
        value = {"postmenopausal": ("76498008", "Postmenopausal state"),
                 "premenopausal": ("309606002", "Before menopause")}[p["menopause"]]
        obs = _observation("menopause-status", patient, coded(SNOMED, "161712005", "Menopause, function"),
                           "exam", "2026-10-20", valueCodeableConcept=coded(SNOMED, *value))
        obs["focus"] = [_ref(condition)]
        resources.append(obs)
    worksheet = []
    if p.get("transplant"):
        worksheet.append({"linkId": "history", "item": [{"linkId": "history.transplant", "answer": [
            {"valueCoding": {"code": p["transplant"], "display": p["transplant"]}}]}]})
    if p.get("attest"):
        # label criteria the clinician attests (yes / no), as the worksheet's boolean items
        worksheet.append({"linkId": "attest", "item": [{"linkId": f"attest.{key}", "answer": [{"valueBoolean": yes}]}
                                                       for key, yes in sorted(p["attest"].items())]})
    if worksheet:
        # the program worksheet answered in the EHR (DTR), sent back with the request
        resources.append({"resourceType": "QuestionnaireResponse", "id": "worksheet-1",
                          "questionnaire": f"{BASE}Questionnaire/oncopath-worksheet-general", "status": "completed",
                          "subject": _ref(patient), "authored": "2026-11-18", "item": worksheet})
    if p.get("line"):
        obs = _observation("line-of-therapy", patient, coded(OCPA, "line-of-therapy", "Line of Therapy"),
                           "therapy", "2026-11-18",
                           valueCodeableConcept=coded(LINE_CS, LINES[p["line"]], p["line"]))
        obs["focus"] = [_ref(condition)]
        resources.append(obs)
    for i, spec in enumerate(p.get("biomarkers") or []):
        resources.append(_biomarker(i, spec, patient, condition))
    for i, prior in enumerate(p.get("prior_therapy") or []):
        # a drug name, or {drug, last}: the completed course's last administration date
        name = prior["drug"] if isinstance(prior, dict) else prior
        last = str(prior.get("last") or "") if isinstance(prior, dict) else ""
        line = {"drug": name, "id": _fhir_id(f"prior-{i + 1}-{name}"), "authored": last or "2026-03-02"}
        resources.append(_medication_request(line, patient, practitioner, condition, None, status="completed"))
        if last:
            admin = {"resourceType": "MedicationAdministration", "id": _fhir_id(f"prior-{i + 1}-{name}-last"),
                     "meta": {"profile": [MCODE + "mcode-cancer-related-medication-administration"]},
                     "status": "completed", "medicationCodeableConcept": resources[-1]["medicationCodeableConcept"],
                     "subject": _ref(patient), "effectiveDateTime": last,
                     "request": _ref(resources[-1]), "reasonReference": [_ref(condition)]}
            resources.append(admin)
    if p.get("response"):
        # mCODE CancerDiseaseStatus "in partial remission" (ConditionStatusTrendVS, mCODE STU 2.1)
        obs = _observation("disease-status-response", patient, coded(LOINC, "97509-4", "Cancer Disease Progression"),
                           "survey", str(p["response"]),
                           valueCodeableConcept=coded(SNOMED, "551001000124108",
                                                      "Malignant neoplasm in partial remission (disorder)"))
        obs["meta"] = {"profile": [MCODE + "mcode-cancer-disease-status"]}
        obs["focus"] = [_ref(condition)]
        resources.append(obs)
    if p.get("progression"):
        # mCODE CancerDiseaseStatus "condition worsened" (ConditionStatusTrendVS, mCODE 4.0.0)
        obs = _observation("disease-status", patient, coded(LOINC, "97509-4", "Cancer Disease Progression"),
                           "survey", str(p["progression"]),
                           valueCodeableConcept=coded(SNOMED, "271299001", "Patient's condition worsened (finding)"))
        obs["meta"] = {"profile": [MCODE + "mcode-cancer-disease-status"]}
        obs["focus"] = [_ref(condition)]
        resources.append(obs)
    intent = p.get("intent")
    for line in sc["order"]:
        resources.append(_medication_request(line, patient, practitioner, condition, intent))
    return {"resourceType": "Bundle", "id": sc["id"], "type": "collection", "timestamp": TIMESTAMP,
            "entry": [{"fullUrl": f"{BASE}{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}


# ------------------------------------------------------------------------------- the two doors

def _searchset(resources: list[dict], includes: list[dict] = ()) -> dict:
    entries = [{"fullUrl": f"{BASE}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
               for r in resources]
    entries += [{"fullUrl": f"{BASE}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "include"}}
                for r in includes]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources), "entry": entries}


def _is_lab(obs: dict) -> bool:
    return any(c.get("code") == "laboratory" for cat in obs.get("category") or [] for c in cat.get("coding") or [])


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in bundle["entry"]:
        r = copy.deepcopy(e["resource"])
        out.setdefault(r["resourceType"], []).append(r)
    return out


def _drafts(by_type: dict) -> list[dict]:
    return [r for r in by_type.get("MedicationRequest", []) if r.get("status") == "draft"]


def hook_request(bundle: dict, instance: str, hook: str = "order-sign") -> dict:
    """A CDS Hooks call: the draft MedicationRequests as draftOrders, the rest as prefetch."""
    by_type = _by_type(bundle)
    patient = by_type["Patient"][0]
    practitioner = (by_type.get("Practitioner") or [None])[0]
    coverages = by_type.get("Coverage", [])
    payer_refs = {p.get("reference") for c in coverages for p in c.get("payor") or []}
    payers = [o for o in by_type.get("Organization", []) if f"Organization/{o['id']}" in payer_refs]
    observations = by_type.get("Observation", [])
    prefetch = {
        "patient": patient,
        "coverage": _searchset(coverages, payers),
        "conditions": _searchset(by_type.get("Condition", [])),
        "labs": _searchset([o for o in observations if _is_lab(o)]),
        "assessments": _searchset([o for o in observations if not _is_lab(o)]),
        "medications": _searchset([r for r in by_type.get("MedicationRequest", []) if r.get("status") != "draft"]),
        "administrations": _searchset(by_type.get("MedicationAdministration", [])),
        "worksheets": _searchset(by_type.get("QuestionnaireResponse", [])),
    }
    if practitioner:
        prefetch["practitioner"] = practitioner
    return {
        "hook": hook, "hookInstance": instance,
        "context": {"userId": f"Practitioner/{practitioner['id']}" if practitioner else "Practitioner/unknown",
                    "patientId": patient["id"], "encounterId": "enc-1",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"resource": d} for d in _drafts(by_type)]}},
        "prefetch": prefetch,
    }


def _item_product(mr: dict) -> dict:
    """The billing code a Claim item carries: the order's HCPCS if it has one, else its codes."""
    concept = mr.get("medicationCodeableConcept") or {}
    codings = concept.get("coding") or []
    hcpcs = [c for c in codings if c.get("system") == HCPCS]
    out = {"coding": copy.deepcopy(hcpcs or codings)} if (hcpcs or codings) else {}
    return out | ({"text": concept["text"]} if concept.get("text") else {})


def pas_bundle(bundle: dict, claim_id: str) -> dict:
    """A PAS 2.2 request Bundle with the same facts: Claim first, one item per draft order
    (productOrService = its HCPCS, requestedService -> the MedicationRequest), the record's
    Conditions and Observations as supportingInfo / diagnosis, every Coverage in the Bundle."""
    by_type = _by_type(bundle)
    patient = by_type["Patient"][0]
    coverages = by_type.get("Coverage", [])
    payer_refs = {p.get("reference") for c in coverages for p in c.get("payor") or []}
    orgs = by_type.get("Organization", [])
    payer = next((o for o in orgs if f"Organization/{o['id']}" in payer_refs), None)
    provider_org = next((o for o in orgs if o is not payer), None)
    practitioner = (by_type.get("Practitioner") or [None])[0]
    extra: list[dict] = []
    if payer is None:
        payer = {"resourceType": "Organization", "id": "payer", "name": "Summit Health Plan",
                 "identifier": [{"system": NPI, "value": PAYER_NPI}], "active": True}
        extra.append(payer)
    if provider_org is None:
        provider_org = {"resourceType": "Organization", "id": "clinic", "name": "Riverside Infusion Center",
                        "identifier": [{"system": NPI, "value": CLINIC_NPI}], "active": True}
        extra.append(provider_org)
    role = None
    if practitioner is not None:
        role = {"resourceType": "PractitionerRole", "id": "oncologist-role", "practitioner": _ref(practitioner),
                "organization": _ref(provider_org),
                "code": [coded("http://nucc.org/provider-taxonomy", "207RX0202X", "Medical Oncology")]}
        extra.append(role)
    drafts = _drafts(by_type)
    conditions = by_type.get("Condition", [])
    cancer = [c for c in conditions if "secondary" not in json.dumps(c.get("meta", {}))]
    secondary = [c for c in conditions if c not in cancer]
    diagnosis = []
    for c in cancer + secondary:
        icd = [x for x in (c.get("code") or {}).get("coding") or [] if x.get("system") == ICD10]
        if icd:
            diagnosis.append({"sequence": len(diagnosis) + 1,
                              "diagnosisCodeableConcept": {"coding": [copy.deepcopy(icd[0])]}})
    supporting = [{"sequence": i + 1,
                   "category": coded("http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes",
                                     "additionalInformation"),
                   "valueReference": _ref(o)} for i, o in enumerate(by_type.get("Observation", []))]
    start = next((mr["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["start"] for mr in drafts
                  if mr.get("dosageInstruction") and mr["dosageInstruction"][0].get("timing", {})
                  .get("repeat", {}).get("boundsPeriod")), START)
    items = []
    for i, mr in enumerate(drafts):
        item = {
            "extension": [
                {"url": PAS + "extension-serviceItemRequestType",
                 "valueCodeableConcept": coded(X12 + "1525", "HS", "Health Services Review")},
                {"url": PAS + "extension-certificationType", "valueCodeableConcept": coded(X12 + "1322", "I")},
                {"url": PAS + "extension-requestedService", "valueReference": _ref(mr)},
            ],
            "sequence": i + 1,
            "category": coded(X12 + "1365", "1", "Medical Care"),
            "productOrService": _item_product(mr),
            "servicedPeriod": {"start": start, "end": _six_months(start)},
            "locationCodeableConcept": coded(
                "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set", "11"),
        }
        if role is not None:
            item["careTeamSequence"] = [1]
        if diagnosis:
            item["diagnosisSequence"] = [1]
        items.append(item)
    claim = {
        "resourceType": "Claim", "id": claim_id,
        "meta": {"profile": [PAS + "profile-claim"]},
        "extension": [{"url": PAS + "extension-levelOfServiceCode",
                       "valueCodeableConcept": coded(X12 + "1338", "E", "Elective")}],
        "identifier": [{"system": CLAIM_SYSTEM, "value": claim_id}],
        "status": "active",
        "type": coded("http://terminology.hl7.org/CodeSystem/claim-type", "professional"),
        "use": "preauthorization",
        "patient": _ref(patient),
        "created": bundle.get("timestamp") or TIMESTAMP,
        "insurer": _ref(payer),
        "provider": _ref(provider_org),
        "priority": coded("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
        "insurance": [{"sequence": i + 1, "focal": i == 0, "coverage": _ref(c)} for i, c in enumerate(coverages)],
        "item": items,
    }
    if role is not None:
        claim["careTeam"] = [{"extension": [{"url": PAS + "extension-careTeamClaimScope", "valueBoolean": True}],
                              "sequence": 1, "provider": _ref(role)}]
    if supporting:
        claim["supportingInfo"] = supporting
    if diagnosis:
        claim["diagnosis"] = diagnosis
    resources = [claim] + [copy.deepcopy(e["resource"]) for e in bundle["entry"]] + extra
    return {"resourceType": "Bundle", "meta": {"profile": [PAS + "profile-pas-request-bundle"]},
            "identifier": {"system": "http://clinic.example.org/SUBMITTER_TRANSACTION_IDENTIFIER",
                           "value": f"T-{claim_id}"},
            "type": "collection", "timestamp": bundle.get("timestamp") or TIMESTAMP,
            "entry": [{"fullUrl": f"{BASE}{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}


def _six_months(start: str) -> str:
    d = date.fromisoformat(start)
    month = d.month + 6
    year = d.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1).isoformat()


def requests_for(sc: dict) -> tuple[dict, dict]:
    """(order-sign request, $submit Bundle) for one scenario."""
    bundle = record_bundle(sc)
    digest = hashlib.sha1(sc["id"].encode()).hexdigest()
    instance = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"
    claim_id = f"SC-{sc['id']}" if len(sc["id"]) <= 57 else f"SC-{sc['id'][:46]}-{digest[:10]}"   # unique, <= 60
    return hook_request(bundle, instance), pas_bundle(bundle, claim_id)


def main(argv: list[str]) -> None:
    scenarios = {s["id"]: s for s in load_scenarios()}
    if not argv or argv[0] == "--list":
        for s in scenarios.values():
            print(f"{s['id']:60} {'off-label ' if is_off_label(s) else ''}{s['title']}")
        print(f"{len(scenarios)} scenarios, {sum(map(is_off_label, scenarios.values()))} off-label")
        return
    hook, pas = requests_for(scenarios[argv[0]])
    print(json.dumps(hook if (argv[1:] or ["hook"])[0] == "hook" else pas, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])


# ------------------------------------------------------------------------------- the other way round

def collection_from_hook(request: dict) -> dict:
    """A CDS Hooks request's facts as a collection Bundle: prefetch resources + draft orders."""
    resources: list[dict] = []
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            resources += [copy.deepcopy(e["resource"]) for e in value.get("entry") or [] if e.get("resource")]
        elif isinstance(value, dict) and value.get("resourceType"):
            resources.append(copy.deepcopy(value))
    resources += [copy.deepcopy(e["resource"]) for e in request["context"]["draftOrders"].get("entry") or []]
    seen, unique = set(), []
    for r in resources:
        key = (r["resourceType"], r.get("id"))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return {"resourceType": "Bundle", "type": "collection", "timestamp": TIMESTAMP,
            "entry": [{"fullUrl": f"{BASE}{r['resourceType']}/{r['id']}", "resource": r} for r in unique]}


def collection_from_pas(bundle: dict) -> dict:
    """A PAS request Bundle's clinical facts as a collection Bundle (the Claim and its care-team
    roles dropped; the MedicationRequests its items request become the draft orders)."""
    claim = bundle["entry"][0]["resource"]
    requested = {x["valueReference"].get("reference") for item in claim.get("item") or []
                 for x in item.get("extension") or [] if x.get("url", "").endswith("extension-requestedService")}
    keep = [copy.deepcopy(e) for e in bundle["entry"]
            if e["resource"]["resourceType"] not in ("Claim", "PractitionerRole")]
    for e in keep:
        r = e["resource"]
        if r["resourceType"] == "MedicationRequest" and f"MedicationRequest/{r.get('id')}" in requested:
            r["status"] = "draft"      # the order being signed
    return {"resourceType": "Bundle", "type": "collection", "timestamp": bundle.get("timestamp") or TIMESTAMP,
            "entry": keep}
