"""Send one set of clinical facts through both doors and read back what each decided.

Each door gets its own app and database, so neither sees the other's case (no R8 duplicate
between the two copies of a scenario). A door's answer is read two ways: the decision stored
with the case (the store, by the request key of that door), and what the door said on the wire
(order-sign: each draft's coverage-information; $submit: each ClaimResponse item's reviewAction).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cards.codes import COVERAGE_INFORMATION_URL

SIGN = "/cds-services/oncopath-order-sign"
SUBMIT = "/fhir/Claim/$submit"
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)   # treatment starts 2026-12-01 (R9 prospective)
REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"


def make_app(db_path, *, clock=NOW):
    from server.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db_path}", "CDS_JWT_REQUIRED": False,
                      "PUBLIC_BASE_URL": "https://oncopath.example.org", "PAYER_NAME": "Summit Health Plan"})
    app.extensions["oncopath.clock"] = lambda: clock
    return app


@dataclass
class DoorAnswer:
    """What one door decided, in terms both doors share (drugs keyed by the drug, not the line)."""
    door: str
    http_status: int
    stored: bool                         # a case was recorded for the request
    case_status: str | None = None
    in_program: bool | None = None
    program_reason: str | None = None
    drugs: dict[str, str] = field(default_factory=dict)       # drug key -> R17 drug status
    hcpcs: dict[str, str | None] = field(default_factory=dict)  # drug key -> billing code awarded
    on_pathway: bool = False
    pathway: str | None = None
    regimen: str | None = None
    pathway_eligible_id: bool = False
    s_codes: tuple[str, ...] = ()
    deviations: tuple[tuple, ...] = ()   # (kind, severity, drug key)
    pend_reasons: tuple[str, ...] = ()
    wire: dict[str, str] = field(default_factory=dict)        # drug key -> what the wire said
    raw: dict | None = None

    def comparable(self) -> dict:
        """The decision the two doors must agree on (issue #11 item 7)."""
        return {"stored": self.stored, "case_status": self.case_status, "in_program": self.in_program,
                "program_reason": self.program_reason, "drugs": dict(sorted(self.drugs.items())),
                "hcpcs": dict(sorted(self.hcpcs.items())),
                "on_pathway": self.on_pathway, "pathway": self.pathway, "regimen": self.regimen,
                "s_codes": self.s_codes, "deviations": self.deviations, "pend_reasons": self.pend_reasons}

    def summary(self) -> str:
        return json.dumps(self.comparable() | {"wire": self.wire}, indent=1, default=str)


def _from_decision(answer: DoorAnswer, decision, ref_to_key: dict[str, str]) -> None:
    answer.case_status = decision.case_status.value
    answer.in_program = decision.in_program
    answer.program_reason = decision.program_reason.code if decision.program_reason else None
    answer.drugs = {(d.drug_key or ref_to_key.get(d.ref) or d.ref): d.status.value for d in decision.drugs}
    answer.hcpcs = {(d.drug_key or ref_to_key.get(d.ref) or d.ref): d.hcpcs for d in decision.drugs}
    answer.on_pathway = decision.on_pathway
    if decision.pathway is not None:
        answer.pathway = decision.pathway.pathway_id
        answer.regimen = decision.pathway.regimen_id
        answer.pathway_eligible_id = decision.pathway.pathway_eligible_id is not None
    answer.s_codes = tuple(sorted(s.code for s in decision.s_codes))
    answer.deviations = tuple(sorted((d.kind.value, d.severity.value, d.drug_key or "")
                                     for d in decision.deviations))
    answer.pend_reasons = tuple(sorted({r.code for r in decision.pend_reasons}))


def _draft_key(draft: dict) -> str:
    concept = draft.get("medicationCodeableConcept") or {}
    return concept.get("text") or draft.get("id")


def call_hook(app, request: dict) -> DoorAnswer:
    resp = app.test_client().post(SIGN, json=request)
    body = resp.get_json(silent=True)
    answer = DoorAnswer("order-sign", resp.status_code, stored=False, raw=body)
    if resp.status_code != 200:
        return answer
    drafts = {f"MedicationRequest/{e['resource']['id']}": e["resource"]
              for e in request["context"]["draftOrders"]["entry"]}
    for action in body.get("systemActions") or []:
        resource = action.get("resource") or {}
        info = next((e for e in resource.get("extension") or [] if e["url"] == COVERAGE_INFORMATION_URL), None)
        if info is None:
            continue
        subs = {s["url"]: s for s in info["extension"]}
        pa = (subs.get("pa-needed") or {}).get("valueCode")
        covered = (subs.get("covered") or {}).get("valueCode")
        draft = drafts.get(f"MedicationRequest/{resource.get('id')}") or resource
        answer.wire[_draft_key(draft)] = f"{covered}/{pa}"
    record = app.extensions["oncopath.store"].find_case_by_request_key(request["hookInstance"])
    if record is not None:
        answer.stored = True
        _from_decision(answer, record.decision_obj(),
                       {ref: _draft_key(d) for ref, d in drafts.items()})
    return answer


def call_submit(app, bundle: dict) -> DoorAnswer:
    resp = app.test_client().post(SUBMIT, data=json.dumps(bundle), content_type="application/fhir+json")
    body = resp.get_json(silent=True)
    answer = DoorAnswer("$submit", resp.status_code, stored=False, raw=body)
    if resp.status_code != 200:
        return answer
    claim = bundle["entry"][0]["resource"]
    mrs = {f"MedicationRequest/{e['resource']['id']}": e["resource"] for e in bundle["entry"]
           if e["resource"]["resourceType"] == "MedicationRequest"}
    item_key = {}
    for item in claim.get("item") or []:
        ref = next((x["valueReference"]["reference"] for x in item.get("extension") or []
                    if x["url"].endswith("extension-requestedService")), None)
        item_key[item["sequence"]] = _draft_key(mrs[ref]) if ref in mrs else str(item["sequence"])
    response = body["entry"][0]["resource"]
    for item in response.get("item") or []:
        for adj in item.get("adjudication") or []:
            for ext in adj.get("extension") or []:
                if ext["url"] == REVIEW_ACTION:
                    code = next(s["valueCodeableConcept"]["coding"][0]["code"] for s in ext["extension"]
                                if s["url"].endswith("reviewActionCode"))
                    answer.wire[item_key.get(item["itemSequence"], str(item["itemSequence"]))] = code
    ident = claim["identifier"][0]
    record = app.extensions["oncopath.store"].find_case_by_request_key(f"pas|{ident['system']}|{ident['value']}")
    if record is not None:
        answer.stored = True
        _from_decision(answer, record.decision_obj(),
                       {f"item/{seq}": key for seq, key in item_key.items()})
    return answer


# What each wire answer must say for a drug status (a door that stores one thing and says
# another is wrong whatever the other door does).
HOOK_WIRE = {"Authorized": "covered/satisfied", "In Progress": "conditional/auth-needed"}
PAS_WIRE = {"Authorized": "A1", "In Progress": "A4", "Other Impact": "NA"}


def wire_problems(answer: DoorAnswer) -> list[str]:
    table = HOOK_WIRE if answer.door == "order-sign" else PAS_WIRE
    out = []
    for drug, status in answer.drugs.items():
        want = table.get(status)
        got = answer.wire.get(drug)
        if want is not None and got is not None and got != want:
            out.append(f"{drug}: stored {status!r} but the wire says {got!r} (expected {want!r})")
    return out
