"""server.serving.prepare: what `oncopath serve` does to each app before its first request."""
from __future__ import annotations

import gc
import re
from pathlib import Path

from mappings import provider, structure
from mappings.fhir import CONSUMED_RESOURCE_TYPES

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def test_the_warm_list_names_every_resource_type_the_mappings_validate():
    parsed = set()
    for source in MAPPINGS.glob("*.py"):
        for expected in re.findall(r"\bparse\([^)]*?,\s*([^)]+)\)", source.read_text()):
            parsed |= set(re.findall(r'"([A-Z][A-Za-z]+)"', expected))
    parsed |= set(provider._KINDS)   # parse(resource, path, tuple(_KINDS))
    assert {"MedicationRequest", "Observation", "Condition", "Coverage", "Patient"} <= parsed
    assert parsed <= set(CONSUMED_RESOURCE_TYPES)


def test_prepare_compiles_those_validators_and_freezes_the_start_up_objects(app):
    from server.serving import prepare
    try:
        assert prepare(app) is app
        assert gc.get_freeze_count() > 10_000
        assert set(CONSUMED_RESOURCE_TYPES) <= set(structure._validators)
    finally:
        gc.unfreeze()

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e
