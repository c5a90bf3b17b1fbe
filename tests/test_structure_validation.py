"""The compiled R4B structure validator (mappings.structure) accepts and rejects exactly what the
fhir.resources models do: on every resource in the official examples, and on seeded mutations
of them (unknown elements, wrong types, a list sent as one object, nulls, bad dates, dropped
required elements)."""
from __future__ import annotations

import copy
import json
import random

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from mappings import structure


def _resources(node):
    if isinstance(node, dict):
        if isinstance(node.get("resourceType"), str):
            yield node
        for value in node.values():
            yield from _resources(value)
    elif isinstance(node, list):
        for value in node:
            yield from _resources(value)


def _known(rtype: str) -> bool:
    try:
        get_fhir_model_class(rtype)
        return True
    except (KeyError, ValueError, AttributeError):
        return False


@pytest.fixture(scope="module")
def example_resources(examples_dir):
    found = []
    for path in sorted(examples_dir.rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        found += [(path.name, r) for r in _resources(doc) if _known(r["resourceType"])]
    assert len(found) > 400, "the official examples should hold hundreds of resources"
    return found


def _models_accept(resource: dict) -> bool:
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        return True
    except Exception:   # noqa: BLE001 - some shapes crash the models (AttributeError): a rejection
        return False


def _compiled_accepts(resource: dict) -> bool:
    try:
        structure.validate(resource, resource["resourceType"])
        return True
    except ValidationError:
        return False


def test_every_official_example_resource_gets_the_same_verdict_from_both_validators(example_resources):
    disagreements = [(name, r["resourceType"], r.get("id")) for name, r in example_resources
                     if _models_accept(r) != _compiled_accepts(r)]
    assert disagreements == []
    assert sum(_compiled_accepts(r) for _, r in example_resources) > 400


def _nodes(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _nodes(value, path + (i,))


def _mutate(resource: dict, rng: random.Random) -> tuple[str, dict] | None:
    """One random damage to a copy of the resource (outside nested resources), or None."""
    out = copy.deepcopy(resource)
    spots = [(p, v) for p, v in _nodes(out)
             if p and p != ("resourceType",) and "resource" not in p and "contained" not in p]
    if not spots:
        return None
    path, value = rng.choice(spots)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    kind = rng.choice(["unknown", "str2num", "list2obj", "obj2list", "baddate", "null_in_list",
                       "drop", "empty_str", "bool2str"])
    if kind == "unknown" and isinstance(value, dict):
        value["bogusElement"] = "x"
    elif kind == "str2num" and isinstance(value, str):
        parent[key] = 12
    elif kind == "list2obj" and isinstance(value, list) and value and isinstance(value[0], dict):
        parent[key] = value[0]
    elif kind == "obj2list" and isinstance(value, dict):
        parent[key] = [value]
    elif kind == "baddate" and isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        parent[key] = value[:5] + "13-45" + value[10:]
    elif kind == "null_in_list" and isinstance(value, list):
        value.append(None)
    elif kind == "drop" and isinstance(parent, dict):
        del parent[key]
    elif kind == "empty_str" and isinstance(value, str):
        parent[key] = ""
    elif kind == "bool2str" and isinstance(value, bool):
        parent[key] = "yes"
    else:
        return None
    return kind, out


def test_seeded_mutations_of_the_examples_get_the_same_verdict_from_both_validators(example_resources):
    rng = random.Random(20261202)
    tried, rejected, disagreements = 0, 0, []
    for name, resource in example_resources:
        for _ in range(7):
            mutated = _mutate(resource, rng)
            if mutated is None:
                continue
            kind, damaged = mutated
            tried += 1
            expected = _models_accept(damaged)
            rejected += not expected
            if _compiled_accepts(damaged) != expected:
                disagreements.append((name, kind, expected))
    assert tried > 800
    assert rejected > 200, "the mutations should break many resources, or the test proves little"
    assert disagreements == []


MR = {"resourceType": "MedicationRequest", "id": "ox", "status": "draft", "intent": "order",
      "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                "code": "32592"}]},
      "subject": {"reference": "Patient/p1"},
      "dosageInstruction": [{"timing": {"repeat": {"period": 14, "periodUnit": "d"}}}]}


def _errors(resource: dict) -> list[dict]:
    with pytest.raises(ValidationError) as caught:
        structure.validate(resource, resource["resourceType"])
    return caught.value.errors()


def test_a_choice_element_sent_as_two_types_is_rejected_at_its_parent():
    both = {**MR, "medicationReference": {"reference": "Medication/m1"}}
    (err,) = _errors(both)
    assert "medication[x] has more than one type" in err["msg"]
    assert not _models_accept(both)


def test_a_required_choice_element_that_is_absent_is_named():
    none = {k: v for k, v in MR.items() if k != "medicationCodeableConcept"}
    (err,) = _errors(none)
    assert "medication[x] is required" in err["msg"]


def test_a_required_primitive_may_be_carried_by_its_extension_alone():
    no_status = {k: v for k, v in MR.items() if k != "status"}
    assert _errors(no_status)[0]["msg"] == "status is required"
    absent = {**no_status, "_status": {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}
    assert structure.validate(absent, "MedicationRequest")["_status"]["extension"][0]["valueCode"] == "unknown"
    assert _models_accept(absent)


def test_errors_name_the_json_element_path():
    bad = copy.deepcopy(MR)
    bad["dosageInstruction"][0]["timing"]["repeat"]["period"] = "every two weeks"
    locs = [e["loc"][:5] for e in _errors(bad)]
    assert ("dosageInstruction", 0, "timing", "repeat", "period") in locs


def test_a_primitive_whose_own_check_crashes_on_a_number_is_a_validation_error():
    bad = {"resourceType": "Endpoint", "status": "active", "connectionType": {"code": "hl7-fhir-rest"},
           "payloadType": [{"text": "any"}], "address": 12}
    with pytest.raises(ValidationError) as caught:
        structure.validate(bad, "Endpoint")
    assert caught.value.errors()[0]["loc"][0] == "address"


def test_a_resource_checked_as_another_type_is_rejected_at_its_resource_type():
    with pytest.raises(ValidationError) as caught:
        structure.validate(MR, "Observation")
    assert ("resourceType",) in [e["loc"] for e in caught.value.errors()]


def test_a_contained_resource_is_checked_as_the_type_it_names():
    bad = {**MR, "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "x"},
                                "bogus": 1}]}
    (err,) = _errors(bad)
    assert err["loc"][:2] == ("contained", 0)
    assert "Medication at bogus" in err["msg"]
    good = {**MR, "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "x"}}]}
    assert structure.validate(good, "MedicationRequest")["contained"][0]["code"]["text"] == "x"


def test_an_element_reads_like_the_model_it_replaces():
    mr = structure.Element(structure.validate(MR, "MedicationRequest"))
    assert mr.get_resource_type() == "MedicationRequest"
    assert mr.status == "draft" and mr.priority is None and mr.note is None
    assert mr.medicationCodeableConcept.coding[0].code == "32592"
    assert float(mr.dosageInstruction[0].timing.repeat.period) == 14.0
    coverage = structure.Element({"resourceType": "Coverage", "class": [{"value": "MA"}]})
    assert coverage.class_fhir[0].value == "MA"


def test_an_unknown_resource_type_is_a_key_error():
    with pytest.raises(KeyError):
        structure.validator("NotAResource")

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
