"""Hook services as data: discovery and prefetch templates checked against each hook's context."""
from __future__ import annotations

import pytest

from cards.codes import TOPIC_DISPLAY
from server.app import create_app
from server.hooks import registry


@pytest.fixture
def discovery():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    resp = app.test_client().get("/cds-services")   # no JWT: discovery is public
    assert resp.status_code == 200
    return resp.get_json()


def test_discovery_lists_the_order_sign_and_order_select_services(discovery):
    services = {s["id"]: s for s in discovery["services"]}
    assert set(services) == {"oncopath-order-sign", "oncopath-order-select"}
    assert services["oncopath-order-sign"]["hook"] == "order-sign"
    assert services["oncopath-order-select"]["hook"] == "order-select"
    for s in services.values():
        assert s["title"] and s["description"]
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert s["prefetch"]["coverage"] == "Coverage?patient={{context.patientId}}&status=active"
        assert "http://loinc.org|89247-1" in s["prefetch"]["assessments"]


def test_discovery_declares_crd_2_2_and_one_boolean_option_per_card_type_plus_max_cards(discovery):
    for s in discovery["services"]:
        ext = s["extension"]
        assert ext["davinci-crd.version"] == ["2.2"]
        options = {o["code"]: o for o in ext["davinci-crd.configuration-options"]}
        assert options["max-cards"] == {"code": "max-cards", "type": "integer", "name": "Maximum cards",
                                        "description": options["max-cards"]["description"], "default": 10}
        booleans = {c for c, o in options.items() if o["type"] == "boolean"}
        # every topic a card can carry is switchable, and nothing else is offered
        assert booleans == set(TOPIC_DISPLAY) - {"therapy-alternatives-opt"}
        assert all(o["default"] is True and o["name"] and o["description"] for c, o in options.items() if c in booleans)


@pytest.mark.parametrize("service", list(registry.SERVICES.values()), ids=lambda s: s.id)
def test_every_prefetch_token_is_a_root_level_context_field_of_the_hook_or_a_user_token(service):
    fields = {name for name, _, token in registry.HOOK_CONTEXT_FIELDS[service.hook] if token}
    for key, template in service.prefetch.items():
        tokens = registry.template_tokens(template)
        assert tokens, f"{key} has no token: it would fetch the same data for every patient"
        for token in tokens:
            assert token in registry.USER_TOKENS or (token.startswith("context.") and token[8:] in fields), \
                f"{service.id} prefetch {key}: {{{{{token}}}}} is not a valid CDS Hooks 2.0 token for {service.hook}"
        assert registry.invalid_tokens(service.hook, template) == []


def test_the_token_check_rejects_non_primitive_and_foreign_context_fields():
    assert registry.invalid_tokens("order-sign", "MedicationRequest?_id={{context.draftOrders.entry.id}}") == \
        ["context.draftOrders.entry.id"]
    assert registry.invalid_tokens("order-sign", "X?x={{context.selections}}") == ["context.selections"]
    assert registry.invalid_tokens("order-select", "X?x={{context.selections}}") == ["context.selections"]
    assert registry.invalid_tokens("order-sign", "Practitioner/{{userPractitionerId}}") == []
    assert registry.invalid_tokens("order-sign", "Encounter/{{context.encounterId}}") == []


def test_the_patient_is_the_one_required_prefetch():
    assert registry.REQUIRED_PREFETCH == {"patient"}
    assert all("patient" in s.prefetch for s in registry.SERVICES.values())

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
