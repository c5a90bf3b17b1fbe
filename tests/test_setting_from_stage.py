"""The treatment setting read from stage, metastatic sites and the order's intent: a recorded
metastatic site always means metastatic; a stage IV disease without one is read by an explicit
neoadjuvant / adjuvant intent (head and neck IVA/IVB are M0; resected stage IV melanoma)."""
from __future__ import annotations

import pytest

from mappings.order import _setting
from server.domain.order import Setting

pytestmark = pytest.mark.unit


def test_stage_iva_with_neoadjuvant_intent_and_no_metastatic_site_is_neoadjuvant():
    assert _setting("IVA", False, [Setting.NEOADJUVANT]) is Setting.NEOADJUVANT


def test_resected_stage_iv_with_adjuvant_intent_is_adjuvant():
    assert _setting("IV", False, [Setting.ADJUVANT]) is Setting.ADJUVANT


def test_a_recorded_metastatic_site_is_metastatic_whatever_the_intent():
    assert _setting("IVA", True, [Setting.NEOADJUVANT]) is Setting.METASTATIC
    assert _setting("III", True, [Setting.ADJUVANT]) is Setting.METASTATIC


def test_stage_iv_without_an_early_intent_is_metastatic():
    assert _setting("IVB", False, []) is Setting.METASTATIC
    assert _setting("IV", False, [Setting.METASTATIC]) is Setting.METASTATIC


def test_an_early_stage_takes_its_intent_and_no_intent_stays_unknown():
    assert _setting("IIB", False, [Setting.ADJUVANT]) is Setting.ADJUVANT
    assert _setting("II", False, []) is Setting.UNKNOWN
