"""Assemble one domain `Order` from FHIR: draft MedicationRequests plus the patient's record.

Used by the CDS Hooks door (draftOrders + prefetch) and for collection Bundles (the offline
`oncopath review` command). PAS Claim Bundles go through `mappings.pas_claim`, which reuses the
record part (`PatientRecord`) of this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Iterable

from server.domain.order import (
    Biomarker, BiomarkerResult, Code, Diagnosis, DrugRole, LineOfTherapy, Member, Order, PriorCourse,
    Provider, ProviderKind, Setting, Urgency,
)
from server.errors import BadRequest, Issue

from mappings.condition import ConditionFacts, ConditionKind, condition_facts, diagnosis_kind
from mappings.coverage import CoverageFacts, coverage_facts
from mappings.fhir import ResourceIndex, arr, obj, raw_profiles, raw_reference, system, table
from mappings.body import BodyMeasure, body_fields, body_measure
from mappings.history import disease_status, history_fields, prior_course
from mappings.medication import MedicationFacts, drug_line, nct_in, raw_drug_codes
from mappings.timing import related_action_starts
from mappings.observation import ObservationFacts, is_relevant, observation_facts
from mappings.worksheet import attestations, transplant_candidacy, worksheet_answers
from mappings.patient import PatientFacts, patient_facts
from mappings.provider import provider_from_reference

# --- the patient's record ---------------------------------------------------------------------

@dataclass
class PatientRecord:
    """What the patient's resources say, independent of how the drugs were ordered."""
    index: ResourceIndex
    patient: PatientFacts | None = None
    coverages: list[CoverageFacts] = field(default_factory=list)
    conditions: list[ConditionFacts] = field(default_factory=list)
    observations: list[ObservationFacts] = field(default_factory=list)
    observation_by_ref: dict[str, ObservationFacts] = field(default_factory=dict)
    line_hints: list[LineOfTherapy] = field(default_factory=list)   # regimen-level extensions
    nct_ids: list[str] = field(default_factory=list)
    prior_treatment: bool = False
    prior_medications: list[Code] = field(default_factory=list)     # codes of those prior-treatment records
    prior_courses: list[PriorCourse] = field(default_factory=list)  # the same, with their last dates
    progressions: list[date] = field(default_factory=list)          # documented progression (mCODE disease status)
    responses: list[date] = field(default_factory=list)             # documented full / partial remission
    body: list[BodyMeasure] = field(default_factory=list)           # weight, height, BSA
    worksheet: dict[str, str] = field(default_factory=dict)          # our worksheet's answers sent with the request


def read_record(entries: list[tuple[dict, str]], index: ResourceIndex,
                patient_id: str | None = None, skip: Iterable[int] = ()) -> PatientRecord:
    """Map the patient's resources (raw JSON with their paths). `skip` = ids of order resources."""
    record = PatientRecord(index=index)
    skipped = {id(r) for r in skip}
    clinical = table("clinical")
    for raw, path in entries:
        if id(raw) in skipped or not _about_patient(raw, patient_id):
            continue
        rtype = raw.get("resourceType")
        if rtype == "Patient":
            facts = patient_facts(raw, path)
            if record.patient is None or (patient_id and facts.ref.endswith(f"/{patient_id}")):
                record.patient = facts
        elif rtype == "Coverage":
            record.coverages.append(coverage_facts(raw, path, index))
        elif rtype == "Condition":
            record.conditions.append(condition_facts(raw, path))
        elif rtype == "Observation" and is_relevant(raw):
            facts = observation_facts(raw, path)
            record.observations.append(facts)
            record.observation_by_ref[facts.ref] = facts
        elif rtype == "Observation" and (measure := body_measure(raw)) is not None:
            record.body.append(measure)
        elif rtype == "Observation" and (status := disease_status(raw)) is not None:
            kind, day = status
            (record.progressions if kind == "worsened" else record.responses).append(day)
        elif rtype == "QuestionnaireResponse":
            record.worksheet.update(worksheet_answers(raw))
        elif rtype in ("RequestGroup", "CarePlan"):
            record.line_hints += _line_hints_raw(raw)
        elif rtype == "ResearchStudy":
            record.nct_ids += _nct_ids_raw(raw)
        elif rtype == "ResearchSubject":
            study, _ = index.resolve(raw_reference(raw.get("study")))
            ident = obj(obj(raw.get("study")).get("identifier")).get("value")
            record.nct_ids += ([ident] if isinstance(ident, str) and nct_in(ident) == ident else [])
            record.nct_ids += _nct_ids_raw(study or {})
        if rtype in ("MedicationRequest", "MedicationAdministration", "Procedure"):
            if (raw_profiles(raw) & set(clinical["prior_treatment_profiles"])
                    and raw.get("status") in clinical["prior_treatment_statuses"]):
                record.prior_treatment = True
                if rtype != "Procedure":
                    codes = raw_drug_codes(raw)
                    record.prior_medications += codes
                    record.prior_courses.append(prior_course(raw, codes))
    return record


def _about_patient(raw: dict, patient_id: str | None) -> bool:
    if not patient_id:
        return True
    ref = raw_reference(raw.get("subject") or raw.get("patient") or raw.get("beneficiary"))
    if raw.get("resourceType") == "Patient":
        return raw.get("id") in (None, patient_id)
    return ref is None or ref.rstrip("/").split("/")[-1] == patient_id


def _line_hints_raw(raw: dict) -> list[LineOfTherapy]:
    """The CodeX treatment-line extension on a RequestGroup / CarePlan (read as raw JSON)."""
    lot = table("clinical")["line_of_therapy"]
    out = []
    for ext in arr(raw.get("extension")):
        if obj(ext).get("url") in lot["extensions"]:
            for c in arr(obj(ext.get("valueCodeableConcept")).get("coding")):
                c = obj(c)
                if c.get("system") in lot["code_systems"] and c.get("code") in lot["codes"]:
                    out.append(LineOfTherapy(lot["codes"][c["code"]]))
    return out


def _nct_ids_raw(raw: dict) -> list[str]:
    values = [str(obj(i).get("value") or "") for i in arr(raw.get("identifier"))]
    return [v for v in values if v and nct_in(v) == v]


# --- record -> order parts --------------------------------------------------------------------

def diagnosis(record: PatientRecord, *, preferred: Iterable[str] = (), extra_codes: Iterable[Code] = (),
              setting_hints: Iterable[Setting] = (), line_hints: Iterable[LineOfTherapy] = ()) -> Diagnosis:
    """The primary cancer (first), its stage, setting, line of therapy and metastatic sites."""
    preferred = list(preferred)
    primaries = [c for c in record.conditions if c.kind is ConditionKind.PRIMARY_CANCER]
    primaries.sort(key=lambda c: (c.ref not in preferred, not c.active))
    secondaries = [c for c in record.conditions if c.kind is ConditionKind.SECONDARY_CANCER and c.active]

    extra = list(extra_codes)
    extra.sort(key=lambda c: diagnosis_kind(c) is not ConditionKind.PRIMARY_CANCER)
    extra = [c for c in extra if diagnosis_kind(c) is not ConditionKind.SECONDARY_CANCER]
    codes: list[Code] = []
    seen: set[tuple[str, str]] = set()
    for code in [*(code for c in primaries for code in _icd_first(c.codes)), *extra]:
        if (code.system, code.code) not in seen:   # same code from Condition and Claim: once
            seen.add((code.system, code.code))
            codes.append(code)
    if not codes:
        # No cancer and no diagnosis named by the request: the record's own active diagnoses
        # (those the orders give as their reason first) are what the request is for — as a PAS
        # Claim.diagnosis would say. Both doors then answer e.g. rituximab for rheumatoid
        # arthritis alike: not an oncology diagnosis (R12).
        others = [c for c in record.conditions if c.kind is ConditionKind.OTHER and c.active]
        others.sort(key=lambda c: c.ref not in preferred)
        for code in (code for c in others for code in _icd_first(c.codes)):
            if (code.system, code.code) not in seen:
                seen.add((code.system, code.code))
                codes.append(code)
    main = primaries[0] if primaries else None
    stage = _stage(record, main)

    metastatic_sites = tuple(code for c in secondaries for code in c.codes)
    setting = _setting(stage, bool(secondaries), setting_hints)
    line = next((h for h in line_hints if h is not LineOfTherapy.UNKNOWN), LineOfTherapy.UNKNOWN)
    if line is LineOfTherapy.UNKNOWN and record.line_hints:
        line = record.line_hints[0]
    if line is LineOfTherapy.UNKNOWN:
        lot_obs = [o for o in record.observations if o.line_of_therapy is not LineOfTherapy.UNKNOWN]
        if lot_obs:
            line = max(lot_obs, key=lambda o: o.effective or "").line_of_therapy
    return Diagnosis(
        codes=tuple(codes),
        histology=main.histology if main else (),
        stage_group=stage,
        setting=setting,
        line_of_therapy=line,
        metastatic_sites=metastatic_sites,
    )


def _icd_first(codes: tuple[Code, ...]) -> list[Code]:
    icd = system("icd10cm")
    return [c for c in codes if c.system == icd] + [c for c in codes if c.system != icd]


def _stage(record: PatientRecord, main: ConditionFacts | None) -> str | None:
    # 1. the stage Observations the cancer Condition points to (its detailed record)
    if main is not None:
        for ref in main.stage_assessments:
            raw, _ = record.index.resolve(ref)   # also urn:uuid / absolute references
            key = f"Observation/{raw.get('id')}" if raw is not None else ref
            obs = record.observation_by_ref.get(key)
            if obs and obs.stage and obs.stage.group and obs.stage.stage:
                return obs.stage.stage
        # 2. the Condition's own stage summary
        if main.stage_summary:
            return main.stage_summary
    # 3. the most recent stage-group Observation in the record (pathologic before clinical)
    readings = [o for o in record.observations if o.stage and o.stage.group and o.stage.stage]
    if readings:
        best = max(readings, key=lambda o: (o.effective or "", o.stage.scale == "tnm-pathologic"))
        return best.stage.stage
    return None


def _setting(stage: str | None, has_secondary: bool, hints: Iterable[Setting]) -> Setting:
    prefixes = table("staging")["metastatic_stage_prefixes"]
    hints = list(hints)
    if has_secondary:
        return Setting.METASTATIC
    if stage and any(stage.upper().startswith(p) for p in prefixes):
        # An explicit neoadjuvant / adjuvant intent for a stage IV disease with no metastatic site
        # on record is read as that intent: head and neck stage IVA/IVB are locoregional (M0),
        # resected stage IV melanoma is treated adjuvantly. A recorded metastatic site always wins.
        early = [h for h in hints if h in (Setting.ADJUVANT, Setting.NEOADJUVANT)]
        return early[0] if early else Setting.METASTATIC
    for hint in hints:
        if hint in (Setting.ADJUVANT, Setting.NEOADJUVANT, Setting.METASTATIC):
            return hint
    return Setting.UNKNOWN


def biomarkers(record: PatientRecord) -> tuple[Biomarker, ...]:
    """All biomarker readings: definitive results (positive/negative) first, then the most
    recent, so that e.g. HER2 ISH "amplified" beats an IHC 2+ (equivocal) from the same work-up
    (`Order.biomarker` takes the first known reading)."""
    readings = [(b, o.effective or "") for o in record.observations for b in o.biomarkers]
    definitive = (BiomarkerResult.POSITIVE, BiomarkerResult.NEGATIVE)
    readings.sort(key=lambda r: (r[0].result in definitive, r[1]), reverse=True)
    return tuple(b for b, _ in readings)


def latest(record: PatientRecord, attr: str):
    """The most recent reading the record states of a patient fact an Observation carries (ECOG,
    menopausal status, eGFR): an Observation whose value could not be read states none."""
    readings = [o for o in record.observations if getattr(o, attr) is not None]
    return getattr(max(readings, key=lambda o: o.effective or ""), attr) if readings else None


def member(record: PatientRecord, coverage: CoverageFacts | None) -> Member:
    member_id = (coverage.member_id if coverage else None) or (
        record.patient.member_id if record.patient else None)
    return Member(
        id=member_id,
        birth_date=record.patient.birth_date if record.patient else None,
        line_of_business=coverage.line_of_business if coverage else Member(None).line_of_business,
        network_status=coverage.network_status if coverage else Member(None).network_status,
        plan_name=(coverage.plan_name or coverage.payer_name) if coverage else None,
        # R12 reads every Coverage: Medicare Advantage next to a Medicaid Coverage is dual-eligible
        coverages=tuple(c.line_of_business for c in record.coverages if c.active),
    )


def fn_risk_factors(record: PatientRecord, extra: Iterable[str] = ()) -> frozenset[str]:
    """FN risk factors the record states: its active conditions and prior anticancer treatment.
    Those the order itself shows (age, ECOG, advanced disease) the engine works out, once."""
    fn = table("clinical")["fn_risk_factors"]
    found = set(extra)
    for c in record.conditions:
        if c.active:
            found |= c.fn_risk_factors
    if record.prior_treatment:
        found.add(fn["prior_treatment"])
    return frozenset(found)


def focal_coverage(record: PatientRecord, preferred_ref: str | None = None) -> CoverageFacts | None:
    if not record.coverages:
        return None
    if preferred_ref:
        for c in record.coverages:
            if c.ref == preferred_ref or c.ref.endswith("/" + preferred_ref.rstrip("/").split("/")[-1]):
                return c
    active = [c for c in record.coverages if c.active]
    return (active or record.coverages)[0]


def unknown_provider() -> Provider:
    return Provider(npi=None, kind=ProviderKind.UNKNOWN)


# --- the CDS Hooks / collection door ----------------------------------------------------------

def order_from_resources(draft_orders: list[dict], resources: list[dict], *, request_id: str,
                         received_at: datetime, patient_id: str | None = None) -> Order:
    """Draft MedicationRequests plus the patient's resources (JSON dicts; Bundles are flattened)."""
    if not isinstance(draft_orders, list) or not isinstance(resources, list):
        raise BadRequest(Issue("structure", "draft orders and resources must be lists"))
    drafts = [(r, f"draftOrders[{i}]") for i, r in enumerate(draft_orders)]
    entries = list(_flatten(resources, "resources"))
    return assemble(drafts, entries, request_id=request_id, received_at=received_at,
                     patient_id=patient_id)


def _flatten(resources: list, prefix: str):
    for i, r in enumerate(resources):
        path = f"{prefix}[{i}]"
        if isinstance(r, dict) and r.get("resourceType") == "Bundle":
            for j, e in enumerate(arr(r.get("entry"))):
                res = e.get("resource") if isinstance(e, dict) else None
                if isinstance(res, dict):
                    yield res, f"{path}.entry[{j}].resource"
        elif r is not None:
            yield r, path


def assemble(drafts: list[tuple[dict, str]], entries: list[tuple[dict, str]], *, request_id: str,
              received_at: datetime, patient_id: str | None,
              full_urls: dict[int, str] | None = None) -> Order:
    index = ResourceIndex()
    for raw, path in [*drafts, *entries]:
        if isinstance(raw, dict):
            index.add(raw, path, (full_urls or {}).get(id(raw)))
    meds: list[MedicationFacts] = []
    line_hints: list[LineOfTherapy] = []
    for raw, path in drafts:
        rtype = raw.get("resourceType") if isinstance(raw, dict) else None
        if rtype == "MedicationRequest":
            meds.append(drug_line(raw, path, index))
        elif rtype in ("RequestGroup", "CarePlan"):
            line_hints += _line_hints_raw(raw)
        elif rtype is None:
            raise BadRequest(Issue("structure", f"{path} is not a FHIR resource", expression=[path]))
    record = read_record(entries, index, patient_id, skip=[r for r, _ in drafts])
    groups = [raw for raw, _ in [*drafts, *entries] if isinstance(raw, dict) and raw.get("resourceType") == "RequestGroup"]
    if groups:
        moved = related_action_starts(groups, [m.line for m in meds])
        meds = [replace(m, line=replace(m.line, start=moved[m.line.ref])) if m.line.ref in moved else m for m in meds]
    return build_order(meds, record, request_id=request_id, received_at=received_at,
                       extra_line_hints=line_hints)


def build_order(meds: list[MedicationFacts], record: PatientRecord, *, request_id: str,
                received_at: datetime, extra_line_hints: Iterable[LineOfTherapy] = ()) -> Order:
    lines = tuple(m.line for m in meds)
    preferred = [ref for m in meds for ref in m.reason_references]
    # The Conditions the orders name are diagnosis codes too (as Claim.diagnosis is on $submit).
    reasons = [*(c for m in meds for c in m.reason_codes),
               *(k for c in record.conditions if c.ref in preferred for k in c.codes)]
    dx = diagnosis(record, preferred=preferred, extra_codes=reasons,
                   setting_hints=[m.setting for m in meds],
                   line_hints=[*[m.line_of_therapy for m in meds], *extra_line_hints])
    coverage = focal_coverage(record)
    mem = member(record, coverage)
    start = min((d.start for d in lines if d.start), default=None)
    requester = next((m.requester for m in meds if m.requester), None)
    ordering = provider_from_reference(requester, record.index) or unknown_provider()
    performer = next((m.performer for m in meds if m.performer), None)
    servicing = provider_from_reference(performer, record.index)
    nct = next((n for n in record.nct_ids if n), None)
    for m in meds:
        if nct is None and m.research_study:
            nct = nct_in(m.research_study)
            if nct is None:
                raw, _ = record.index.resolve(m.research_study)
                nct = next(iter(_nct_ids_raw(raw or {})), None)
    return Order(
        request_id=request_id,
        member=mem,
        ordering_provider=ordering,
        servicing_provider=servicing,
        diagnosis=dx,
        drugs=lines,
        treatment_start=start,
        received_at=received_at,
        urgency=Urgency.URGENT if any(_urgent(m) for m in meds) else Urgency.STANDARD,
        clinical_trial_nct=nct,
        supportive_only=bool(lines) and all(d.role is DrugRole.SUPPORTIVE for d in lines),
        prior_order_id=next((m.prior_order_id for m in meds if m.prior_order_id), None),
        payer_id=coverage.payer_ref if coverage else None,
        **patient_fields(record),
    )


def patient_fields(record: PatientRecord, extra_risk: Iterable[str] = ()) -> dict:
    """The Order fields the patient's record states, read the same way for both doors: biomarkers,
    performance and menopausal status, transplant candidacy and label criteria attested on the
    worksheet, FN risk factors, body measures, treatment history."""
    return dict(biomarkers=biomarkers(record), ecog=latest(record, "ecog"), menopause=latest(record, "menopause"),
                egfr=latest(record, "egfr"), transplant=transplant_candidacy(record.worksheet),
                attested=attestations(record.worksheet),
                fn_risk_factors=fn_risk_factors(record, extra=extra_risk),
                prior_medications=tuple(record.prior_medications),
                **body_fields(record.body),
                **history_fields(record.prior_courses, record.progressions, record.responses))


def _urgent(m: MedicationFacts) -> bool:
    return m.priority in table("medication")["urgent_priorities"]


def full_urls(bundle: dict) -> dict[int, str]:
    """fullUrl of each entry, keyed by the id() of its resource dict (urn:uuid references)."""
    return {id(e["resource"]): e["fullUrl"] for e in arr(bundle.get("entry"))
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            and isinstance(e.get("fullUrl"), str)}


def bundle_entries(bundle: dict) -> list[tuple[dict, str]]:
    """The entries of a Bundle as (resource, path); a malformed Bundle is a BadRequest."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest(Issue("structure", "The input is not a FHIR Bundle", expression=["Bundle"]))
    entries = bundle.get("entry")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise BadRequest(Issue("structure", "Bundle.entry is not a list", expression=["Bundle.entry"]))
    out = []
    for i, e in enumerate(entries):
        res = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            raise BadRequest(Issue("structure", f"Bundle.entry[{i}] has no resource",
                                   expression=[f"Bundle.entry[{i}].resource"]))
        out.append((res, f"Bundle.entry[{i}].resource"))
    return out
