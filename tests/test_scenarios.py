"""The clinical scenario corpus (tests/scenarios/*.yaml) through both doors.

Every scenario is a patient record + an order + the clinically right decision with its source.
It is rendered into a CDS Hooks order-sign call and a PAS Claim/$submit Bundle with the same
facts (tests/scenarios/build.py); each door runs on its own app and database. Three tests per
scenario: order-sign gives the expected decision, $submit gives the expected decision, and the
two doors give the same decision (case status, each drug's status, pathway, deviations, pend
reasons). A scenario the engine cannot answer yet is `xfail(strict=True)` with the gap named in
the scenario (`engine_gap:`); a door disagreement is named in `door_gap:`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenarios.build import is_off_label, load_scenarios, requests_for
from scenarios.doors import call_hook, call_submit, make_app, wire_problems
from scenarios.generate import generated_scenarios

HAND_WRITTEN = load_scenarios()
# plus, for every regimen, an on-pathway scenario and an off-label variant generated from the
# knowledge base (tests/scenarios/generate.py)
SCENARIOS = HAND_WRITTEN + list(generated_scenarios())
README = Path(__file__).resolve().parents[1] / "README.md"
_RESULTS: dict[str, tuple] = {}


@pytest.fixture(scope="module")
def door_apps(tmp_path_factory):
    base = tmp_path_factory.mktemp("scenario-doors")
    return make_app(base / "hook.db"), make_app(base / "pas.db")


def run(sc: dict, door_apps) -> tuple:
    """Both doors' answers for a scenario, computed once for its three tests."""
    if sc["id"] not in _RESULTS:
        hook_app, pas_app = door_apps
        hook_req, pas_req = requests_for(sc)
        _RESULTS[sc["id"]] = (call_hook(hook_app, hook_req), call_submit(pas_app, pas_req))
    return _RESULTS[sc["id"]]


def _params(kind: str):
    out = []
    for sc in SCENARIOS:
        marks = []
        gap = sc.get("door_gap") if kind == "parity" else sc.get("engine_gap")
        if isinstance(gap, dict):
            gap = gap.get("hook" if kind == "hook" else "pas" if kind == "pas" else "parity")
        if gap:
            marks.append(pytest.mark.xfail(strict=True, reason=gap))
        out.append(pytest.param(sc, id=sc["id"], marks=marks))
    return out


def _one_of(value) -> list:
    return value if isinstance(value, list) else [value]


def expectation_problems(sc: dict, answer) -> list[str]:
    """Every way a door's answer differs from what the scenario says is clinically right."""
    exp = sc["expect"]
    out: list[str] = []
    if answer.http_status != 200:
        return [f"HTTP {answer.http_status}: {answer.raw}"]
    for drug in exp.get("not_in_progress") or []:
        if answer.stored and answer.drugs.get(drug) == "In Progress":
            out.append(f"{drug}: pended, expected it not to be pended")
    if exp.get("not_managed"):
        # No case, no review: the drugs are answered "no prior authorization needed".
        if answer.stored and answer.in_program:
            out.append(f"expected no review at all, got a case {answer.case_status}")
        return out
    if not answer.stored:
        if set(exp) <= {"not_in_progress"}:
            return out
        return [f"no case was recorded; the wire said {answer.wire}"]
    if "case_status" in exp and answer.case_status not in _one_of(exp["case_status"]):
        out.append(f"case status {answer.case_status!r}, expected {exp['case_status']!r}")
    if "in_program" in exp and answer.in_program is not exp["in_program"]:
        out.append(f"in program {answer.in_program}, expected {exp['in_program']}")
    if exp.get("program_reason") and answer.program_reason != exp["program_reason"]:
        out.append(f"program reason {answer.program_reason!r}, expected {exp['program_reason']!r}")
    for drug, status in (exp.get("drugs") or {}).items():
        got = answer.drugs.get(drug)
        if got not in _one_of(status):
            out.append(f"{drug}: {got!r}, expected {status!r}")
    if "on_pathway" in exp and answer.on_pathway is not exp["on_pathway"]:
        out.append(f"on pathway {answer.on_pathway} ({answer.pathway}/{answer.regimen}), expected {exp['on_pathway']}")
    if exp.get("on_pathway"):
        if exp.get("pathway") and answer.pathway != exp["pathway"]:
            out.append(f"pathway {answer.pathway!r}, expected {exp['pathway']!r}")
        if exp.get("regimen") and answer.regimen != exp["regimen"]:
            out.append(f"regimen {answer.regimen!r}, expected {exp['regimen']!r}")
    if is_off_label(sc) or exp.get("on_pathway") is False:
        # Never on pathway: no Pathway Eligible ID, no S-codes (issue #12 "Done means").
        if answer.pathway_eligible_id or answer.s_codes:
            out.append(f"off pathway yet Pathway Eligible ID={answer.pathway_eligible_id} S-codes={answer.s_codes}")
    if is_off_label(sc) and answer.case_status == "Authorized":
        out.append("an off-label / off-pathway request was Authorized at once: it must pend")
    if "s_codes" in exp and list(answer.s_codes) != sorted(exp["s_codes"]):
        out.append(f"S-codes {list(answer.s_codes)}, expected {sorted(exp['s_codes'])}")
    for drug, code in (exp.get("hcpcs") or {}).items():
        if answer.hcpcs.get(drug) != code:
            out.append(f"{drug}: billed {answer.hcpcs.get(drug)!r}, expected {code!r}")
    for code in exp.get("pend_reasons") or []:      # a code, or a list of which one must appear
        if not set(_one_of(code)) & set(answer.pend_reasons):
            out.append(f"pend reason {code!r} missing from {list(answer.pend_reasons)}")
    if exp.get("pend_only") and answer.case_status == "In Progress":
        other = [r for r in answer.pend_reasons if r not in exp["pend_only"]]
        if other:
            out.append(f"pended for {other}, expected only {exp['pend_only']}")
    if answer.case_status == "Non-Authorized" or "Non-authorized" in answer.drugs.values() \
            or "A3" in answer.wire.values():
        out.append("an automated denial (only a physician reviewer denies)")
    out += wire_problems(answer)
    return out


def _report(sc: dict, answer, problems: list[str]) -> str:
    return (f"{sc['id']} ({sc['file']}): {sc['title']}\n  source: {sc.get('source')}\n  {answer.door} said:\n"
            + answer.summary() + "\n  problems:\n  - " + "\n  - ".join(problems))


@pytest.mark.parametrize("sc", _params("hook"))
def test_order_sign_gives_the_clinically_right_decision(sc, door_apps):
    hook, _ = run(sc, door_apps)
    problems = expectation_problems(sc, hook)
    assert not problems, _report(sc, hook, problems)


@pytest.mark.parametrize("sc", _params("pas"))
def test_pas_submit_gives_the_clinically_right_decision(sc, door_apps):
    _, pas = run(sc, door_apps)
    problems = expectation_problems(sc, pas)
    assert not problems, _report(sc, pas, problems)


@pytest.mark.parametrize("sc", _params("parity"))
def test_both_doors_give_the_same_decision(sc, door_apps):
    hook, pas = run(sc, door_apps)
    a, b = hook.comparable(), pas.comparable()
    differ = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert not differ, (f"{sc['id']}: the doors disagree on {sorted(differ)}\n"
                        + "\n".join(f"  {k}: order-sign={v[0]!r}  $submit={v[1]!r}" for k, v in differ.items()))


@pytest.mark.parametrize("sc", [pytest.param(sc, id=sc["id"]) for sc in SCENARIOS])
def test_no_door_ever_denies_or_rewards_an_out_of_program_or_pended_off_label_request(sc, door_apps):
    """Holds today for every scenario, gaps included (issue #12 Done means): no automated
    Non-Authorized or A3, and no Pathway Eligible ID or S-code outside the program or on an
    off-label request that was pended."""
    for answer in run(sc, door_apps):
        said = f"{sc['id']}: {answer.door} said {answer.summary()}"
        assert answer.case_status != "Non-Authorized" and "Non-authorized" not in answer.drugs.values(), said
        assert "A3" not in answer.wire.values(), said
        if answer.in_program is False or (is_off_label(sc) and answer.case_status == "In Progress"):
            assert not answer.s_codes and not answer.pathway_eligible_id, said


# ----------------------------------------------------------------------------- the corpus itself

def test_every_scenario_is_complete_and_cites_a_source():
    for sc in SCENARIOS:
        assert sc.get("title") and sc.get("source"), sc["id"]
        assert sc.get("order") and sc.get("expect"), sc["id"]
        assert sc["patient"].get("diagnosis", {}).get("icd10"), sc["id"]


def test_every_active_regimen_has_a_generated_pair_or_a_stated_reason_why_not():
    from scenarios.generate import skipped
    from server.knowledge.loader import load_knowledge
    kb = load_knowledge()
    generated = {sc["id"] for sc in SCENARIOS if sc.get("generated")}
    reasons = dict(skipped())
    for p in kb.pathways:
        if p.retired is not None or kb.cancer_types[p.cancer_type].agnostic:
            continue
        for r in p.regimens:
            assert f"gen-{r.id}" in generated or r.id in reasons, f"{r.id}: neither generated nor skipped"
            if f"gen-{r.id}" in generated and r.id not in reasons:
                # an oral regimen's variant is off pathway (pharmacy benefit: nothing to pend)
                assert f"gen-{r.id}-off-label" in generated or f"gen-{r.id}-off-pathway" in generated, \
                    f"{r.id}: no off-label variant"


# Issue 14, "Done means": a standard first-line regimen for each of these cancer types is Authorized
# through both doors when the record meets its criteria, with a Pathway Eligible ID and S-codes.
FIRST_LINE_BY_TYPE = {
    "urothelial": "urothelial-enfortumab-vedotin-pembrolizumab-first-line",
    "hepatocellular": "hcc-atezolizumab-bevacizumab-first-line",
    "gastric": "gastric-pembrolizumab-capox-her2-negative-cps5",
    "ovarian": "ovarian-carboplatin-paclitaxel-first-line",
    "endometrial": "endometrial-dostarlimab-carboplatin-paclitaxel-dmmr",
    "cervical": "cervical-pembrolizumab-paclitaxel-carboplatin-cps-12",
    "hnscc": "hnscc-pembrolizumab-cps20-first-line",
    "sclc": "sclc-carboplatin-etoposide-atezolizumab-extensive",   # IMpower133
    "prostate": "prostate-docetaxel-with-ongoing-adt-hormone-sensitive",
    "renal-cell": "renal-cell-pembrolizumab-axitinib-first-line",
    "hodgkin-lymphoma": "chl-abvd-advanced",
    "follicular-lymphoma": "fl-bendamustine-rituximab-first-line",
    "cll": "cll-venetoclax-obinutuzumab-first-line",
    "aml": "aml-aza-ven-older-adult",
}


@pytest.mark.parametrize("cancer_type", sorted(FIRST_LINE_BY_TYPE))
def test_a_standard_first_line_regimen_is_authorized_on_pathway_through_both_doors_with_its_s_codes(
        cancer_type, door_apps):
    from server.knowledge.loader import load_knowledge
    kb = load_knowledge()
    sc = next(s for s in HAND_WRITTEN if s["id"] == FIRST_LINE_BY_TYPE[cancer_type])
    pathway = next(p for p in kb.pathways if p.id == sc["expect"]["pathway"])
    assert pathway.cancer_type == cancer_type
    for answer in run(sc, door_apps):
        assert answer.case_status == "Authorized", (answer.door, answer.case_status, answer.pend_reasons)
        assert answer.on_pathway and answer.regimen == sc["expect"]["regimen"], answer.door
        assert answer.pathway_eligible_id, f"{answer.door}: no Pathway Eligible ID"
        assert "S0353" in answer.s_codes, f"{answer.door}: S-codes {answer.s_codes}"


def test_off_label_scenarios_expect_a_pend_and_never_a_pathway():
    for sc in filter(is_off_label, SCENARIOS):
        exp = sc["expect"]
        assert exp.get("on_pathway") is False, f"{sc['id']}: an off-label scenario must expect on_pathway: false"
        statuses = _one_of(exp.get("case_status", []))
        assert statuses and "Authorized" not in statuses, f"{sc['id']}: an off-label scenario must pend"


# Every example issue #12 lists, by a phrase its scenario's `issue_example` quotes.
ISSUE_12_EXAMPLES = [
    "PD-L1 TPS 0 %", "EGFR L858R", "matches the squamous pathway", "atezolizumab monotherapy (TPS >= 50 %)",
    "TNBC pembrolizumab + chemotherapy", "accident of order", "pemetrexed approved for squamous",
    "pemetrexed approved for unknown", "bevacizumab approved for squamous", "bevacizumab approved for unknown",
    "small-cell lung cancer", "C25.4", "ESAs approved with curative-intent", "bone-modifying agents",
    "later-line drugs are approved first line", "adjuvant immunotherapy is approved outside its labelled stages",
    "cetuximab and panitumumab have no setting", "liposomal irinotecan (J9205)", "paclitaxel protein-bound (J9264)",
    "CD20 has no LOINC", "MSS answer code", "HGVS-coded EGFR exon 19 deletion", "83059-6", "enfortumab vedotin",
    "Medicare Advantage and a Medicaid Coverage", "low-FN-risk pegfilgrastim", "non-managed drugs",
]


def test_every_example_of_issue_12_is_a_scenario():
    quoted = " | ".join(str(sc.get("issue_example", "")) for sc in SCENARIOS)
    missing = [e for e in ISSUE_12_EXAMPLES if e not in quoted]
    assert not missing, f"issue #12 examples without a scenario: {missing}"


def test_the_corpus_has_at_least_150_scenarios_of_which_60_off_label():
    assert len(SCENARIOS) >= 150
    assert sum(map(is_off_label, SCENARIOS)) >= 60


def test_the_readme_states_the_corpus_counts():
    text = README.read_text()
    m = re.search(r"(\d+) clinical scenarios, (\d+) of them off-label", text)
    assert m, "README: the 'Clinical scenarios' section must say 'N clinical scenarios, M of them off-label'"
    assert (int(m.group(1)), int(m.group(2))) == (len(SCENARIOS), sum(map(is_off_label, SCENARIOS)))

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.e2e
