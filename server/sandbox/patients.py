"""The demo patients behind GET /sandbox/fhir: one per CDS Hooks request fixture.

Every hook fixture's prefetch is one patient's record, and they all call that patient
`patient-1`; here each becomes a patient of its own, named after its fixture
(`order-sign-thp-her2-negative.json` ⇒ `Patient/thp-her2-negative`), with the ids of its other
resources prefixed the same way and its references to the patient rewritten. A fixture whose
record is the same as an earlier one's (order-select of the same patient) adds nobody.
A CDS client can then send the fixture's request without prefetch, with `fhirServer` =
`<base>/sandbox/fhir` and `context.patientId` = that id, and oncopath reads the record there.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

SEARCHABLE = ("Condition", "Observation", "MedicationRequest", "Coverage")
_PATIENT_PARAM_FIELDS = {"Condition": "subject", "Observation": "subject", "MedicationRequest": "subject",
                         "Coverage": "beneficiary"}
_PREFIXES = ("order-sign-", "order-select-")


def patient_id_for(fixture_name: str) -> str:
    stem = Path(fixture_name).stem
    for prefix in _PREFIXES:
        if stem.startswith(prefix):
            return stem[len(prefix):]
    return stem


def _resources(prefetch: dict) -> list[dict]:
    out = []
    for value in (prefetch or {}).values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            out += [e["resource"] for e in value.get("entry") or [] if isinstance(e.get("resource"), dict)]
        elif value.get("resourceType"):
            out.append(value)
    return out


def _rewrite(node, old_ref: str, new_ref: str):
    if isinstance(node, dict):
        return {k: (new_ref if k == "reference" and v == old_ref else _rewrite(v, old_ref, new_ref))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, old_ref, new_ref) for v in node]
    return node


@dataclass
class DemoPatients:
    patients: dict[str, dict] = field(default_factory=dict)
    others: dict[tuple[str, str], dict] = field(default_factory=dict)   # Practitioner, Organization reads
    by_type: dict[str, list[dict]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)        # patient id ⇒ hook fixture

    def search(self, resource_type: str, patient: str) -> list[dict]:
        pid = patient.rsplit("/", 1)[-1]
        ref = f"Patient/{pid}"
        key = _PATIENT_PARAM_FIELDS[resource_type]
        return [r for r in self.by_type.get(resource_type, []) if (r.get(key) or {}).get("reference") == ref]


def load_demo_patients(fixtures_dir: Path) -> DemoPatients:
    demo = DemoPatients()
    seen_records: dict[str, str] = {}
    for path in sorted((fixtures_dir / "hooks").glob("*.json")):
        request = json.loads(path.read_text())
        resources = _resources(request.get("prefetch") or {})
        old_pid = (request.get("context") or {}).get("patientId")
        patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
        if patient is None or not old_pid:
            continue
        fingerprint = json.dumps(resources, sort_keys=True)
        if fingerprint in seen_records:
            continue
        pid = patient_id_for(path.name)
        seen_records[fingerprint] = pid
        demo.source[pid] = f"hooks/{path.name}"
        for resource in resources:
            r = _rewrite(copy.deepcopy(resource), f"Patient/{old_pid}", f"Patient/{pid}")
            if r["resourceType"] == "Patient":
                r["id"] = pid
                demo.patients[pid] = r
            elif r["resourceType"] in SEARCHABLE:
                r["id"] = f"{pid}.{r.get('id')}"
                demo.by_type.setdefault(r["resourceType"], []).append(r)
            elif r.get("id"):
                demo.others.setdefault((r["resourceType"], r["id"]), r)
    return demo


def sandbox_variant(request: dict, patient_id: str, fhir_base: str) -> dict:
    """The fixture's request as a CDS client of the sandbox sends it: no prefetch, the demo
    patient's id, the sandbox's FHIR surface as fhirServer (the drafts keep their subject)."""
    out = copy.deepcopy(request)
    old = (out.get("context") or {}).get("patientId")
    out.pop("prefetch", None)
    out.pop("fhirAuthorization", None)
    out["fhirServer"] = fhir_base
    out = _rewrite(out, f"Patient/{old}", f"Patient/{patient_id}")
    out["context"]["patientId"] = patient_id
    return out
