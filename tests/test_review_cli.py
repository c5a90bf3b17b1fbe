"""`oncopath review FILE`: the demo fixtures through mapping, knowledge base and engine."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server.review_cli import run_review

REPO = Path(__file__).resolve().parents[1]
BUNDLES = REPO / "fixtures" / "bundles"


def review(capsys, name: str, *args) -> tuple[int, str, str]:
    code = run_review(str(BUNDLES / name), *args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_thp_for_her2_positive_metastatic_breast_cancer_is_authorized_on_pathway_with_s0353(capsys):
    code, out, err = review(capsys, "thp-her2-positive-metastatic.json")
    assert code == 0 and err == ""
    assert out.startswith("Case status: Authorized")
    assert "Pathway Eligible ID PE-" in out
    assert "S0353" in out
    for drug in ("docetaxel", "trastuzumab", "pertuzumab"):
        assert f"[{drug}]: Authorized" in out


def test_trastuzumab_for_her2_negative_disease_is_pended_naming_her2(capsys):
    code, out, _ = review(capsys, "trastuzumab-her2-negative.json")
    assert code == 0
    assert out.startswith("Case status: In Progress")
    assert "[trastuzumab]: In Progress" in out
    pended = out.split("Pended because:", 1)[1]
    assert "HER2" in pended.split("\n", 2)[1]
    assert "S0353" not in out


def test_oral_palbociclib_and_letrozole_are_other_impact_for_the_pharmacy_benefit(capsys):
    code, out, _ = review(capsys, "palbociclib-hr-positive.json")
    assert code == 0
    assert "[palbociclib]: Other Impact" in out
    assert "[letrozole]: Other Impact" in out
    assert "Pharmacy benefit manager" in out


def test_the_pas_version_of_thp_gets_the_same_answer(capsys):
    code, out, _ = review(capsys, "pas-thp-her2-positive.json")
    assert code == 0
    assert out.startswith("Case status: Authorized")
    assert "S0353" in out and "J9355" in out


def test_json_output_is_the_decision_as_a_dict(capsys):
    code, out, _ = review(capsys, "thp-her2-positive-metastatic.json", True)
    assert code == 0
    decision = json.loads(out)
    assert decision["case_status"] == "Authorized"
    assert decision["pathway"]["pathway_eligible_id"].startswith("PE-")
    assert {s["code"] for s in decision["s_codes"]} >= {"S0353"}


@pytest.mark.parametrize("name", sorted(p.name for p in BUNDLES.glob("*.json")))
def test_every_fixture_is_reviewed_without_error(capsys, name):
    code, out, err = review(capsys, name)
    assert (code, err) == (0, "")
    assert out.startswith("Case status: ")


def test_a_missing_file_is_one_line_on_stderr_and_exit_code_2(capsys, tmp_path):
    code = run_review(str(tmp_path / "nope.json"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "no such file" in err and "Traceback" not in err


def test_a_file_that_is_not_json_is_exit_code_2(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run_review(str(bad)) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_a_resource_that_is_not_a_bundle_is_exit_code_2(capsys, tmp_path):
    bad = tmp_path / "patient.json"
    bad.write_text(json.dumps({"resourceType": "Patient", "id": "p"}))
    assert run_review(str(bad)) == 2
    assert "not a FHIR Bundle (found Patient)" in capsys.readouterr().err


def test_invalid_fhir_names_the_element_and_exits_2(capsys, tmp_path):
    bundle = json.loads((BUNDLES / "thp-her2-positive-metastatic.json").read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["id"] == "docetaxel":
            entry["resource"]["dosageInstruction"][0]["timing"]["repeat"]["period"] = "every three weeks"
    bad = tmp_path / "bad-bundle.json"
    bad.write_text(json.dumps(bundle))
    assert run_review(str(bad)) == 2
    err = capsys.readouterr().err
    assert err.startswith("oncopath review: invalid FHIR")
    assert "dosageInstruction[0].timing.repeat.period" in err
    assert err.count("\n") == 1


def test_the_installed_command_line_runs_the_review_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "review", str(BUNDLES / "thp-her2-positive-metastatic.json")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Case status: Authorized" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "server.cli", "review", "/nonexistent/file.json"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
