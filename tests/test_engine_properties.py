"""Property-style checks: many seeded random orders against the bundled knowledge base.

Whatever arrives, the engine answers (never raises), never denies, and keeps its own
invariants: due-by exactly when pended, S-codes only on pathway and in network, every drug
line answered, the same answer twice, a dict form that round-trips.
"""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from server.domain.decision import CaseStatus, DrugStatus
from server.domain.order import (
    Biomarker,
    BiomarkerResult,
    Code,
    Diagnosis,
    DrugLine,
    DrugRole,
    History,
    LineOfBusiness,
    LineOfTherapy,
    Member,
    NetworkStatus,
    Order,
    PriorCase,
    Provider,
    ProviderKind,
    Setting,
    Urgency,
)
from server.engine import decide
from server.engine.explain import decision_from_dict, decision_to_dict, explain
from server.knowledge.loader import load_knowledge
from server.knowledge.model import HCPCS, ICD10CM, RXNORM
from test_engine_scenarios import SCENARIOS

KB = load_knowledge()
MARKERS = ["HER2", "ER", "PR", "PDL1_TPS", "PDL1_CPS", "EGFR", "ALK", "BRAF", "KRAS", "NRAS", "MSI", "MMR",
           "BRCA", "CD20"]
CODED = [d for d in KB.drugs.values() if d.rxnorm or d.hcpcs]
ICDS = ["C50.912", "C34.11", "C18.7", "C43.9", "C25.0", "C90.00", "C83.38", "C56.9", "M06.9", "D05.10"]


def _line(rng: random.Random, i: int) -> DrugLine:
    if rng.random() < 0.05:
        codes = (Code(RXNORM, "99999999"),)
    else:
        drug = rng.choice(CODED)
        codes = (Code(RXNORM, drug.rxnorm[0]),) if drug.rxnorm else (Code(HCPCS, drug.hcpcs[0].code),)
    return DrugLine(
        ref=f"item/{i}", codes=codes,
        role=rng.choice([DrugRole.UNKNOWN] * 8 + [DrugRole.INVESTIGATIONAL, DrugRole.SUPPORTIVE]),
        dose=rng.choice([None, 75.0, 420.0, 1000.0]), dose_unit=rng.choice([None, "mg", "mg/m2", "mg/kg"]),
        cycle_length_days=rng.choice([None, None, 14, 21, 28]), cycles=rng.choice([None, 4, 6, 12]),
        administration_days=rng.choice([(), (), (1,), (1, 8)]), frequency_per_day=rng.choice([None, 1, 2]),
        quantity=rng.choice([None, None, 60.0]))


def _order(rng: random.Random, n: int) -> tuple[Order, History]:
    received = datetime(2026, 11, 2, 8, tzinfo=timezone.utc) + timedelta(hours=rng.randint(0, 24 * 30))
    start = rng.choice([None, received.date() + timedelta(days=rng.randint(-8, 20))])
    biomarkers = tuple(
        Biomarker(m, rng.choice(list(BiomarkerResult)), value=rng.choice([None, 5.0, 55.0]),
                  variant=rng.choice([None, "V600E", "L858R", "exon 20 insertion"]))
        for m in rng.sample(MARKERS, rng.randint(0, 5)))
    order = Order(
        request_id=f"prop-{n}",
        member=Member(id="M", birth_date=rng.choice([None, date(1950, 6, 1), date(1980, 2, 2)]),
                      line_of_business=rng.choice([LineOfBusiness.MEDICARE_ADVANTAGE] * 6 + list(LineOfBusiness))),
        ordering_provider=Provider(npi="1", kind=rng.choice(list(ProviderKind)),
                                   network_status=rng.choice(list(NetworkStatus))),
        servicing_provider=None,
        diagnosis=Diagnosis(codes=(Code(ICD10CM, rng.choice(ICDS)),), stage_group=rng.choice([None, "II", "IV"]),
                            setting=rng.choice(list(Setting)), line_of_therapy=rng.choice(list(LineOfTherapy))),
        drugs=tuple(_line(rng, i) for i in range(rng.randint(0, 5))),
        treatment_start=start, received_at=received, biomarkers=biomarkers,
        ecog=rng.choice([None, 0, 1, 2, 3]), urgency=rng.choice(list(Urgency)),
        clinical_trial_nct=rng.choice([None, None, "NCT01234567"]), supportive_only=rng.random() < 0.1,
        fn_risk_factors=frozenset(rng.sample(sorted(KB.fn_risk_factors), rng.randint(0, 1))))
    history = History(tuple(
        PriorCase(f"ORD-{k}", f"r{k}", rng.choice(["Authorized", "Completed", "Review Cancelled"]),
                  frozenset(rng.sample(sorted(KB.drugs), 2)), received.date() - timedelta(days=rng.randint(0, 200)),
                  None, regimen_id=None, s0353_awarded_on=None)
        for k in range(rng.randint(0, 2))))
    return order, history


def _perturbed(rng: random.Random, order: Order, history: History) -> tuple[Order, History]:
    """A scenario order with one or two fields changed: exercises the on-pathway paths too."""
    for _ in range(rng.randint(1, 2)):
        field = rng.choice(["ecog", "network", "kind", "start", "urgency", "biomarkers", "lob", "stage"])
        if field == "ecog":
            order = replace(order, ecog=rng.choice([None, 0, 2, 4]))
        elif field == "network":
            order = replace(order, ordering_provider=replace(order.ordering_provider,
                                                             network_status=rng.choice(list(NetworkStatus))))
        elif field == "kind":
            order = replace(order, ordering_provider=replace(order.ordering_provider,
                                                             kind=rng.choice(list(ProviderKind))))
        elif field == "start":
            order = replace(order, treatment_start=order.received_at.date() + timedelta(days=rng.randint(-6, 9)))
        elif field == "urgency":
            order = replace(order, urgency=rng.choice(list(Urgency)))
        elif field == "biomarkers":
            order = replace(order, biomarkers=order.biomarkers[:rng.randint(0, len(order.biomarkers))])
        elif field == "lob":
            order = replace(order, member=replace(order.member, line_of_business=rng.choice(list(LineOfBusiness))))
        else:
            order = replace(order, diagnosis=replace(order.diagnosis, stage_group=rng.choice([None, "IV"])))
    return order, history


CASES = [_order(random.Random(seed), seed) for seed in range(400)]
CASES += [_perturbed(random.Random(1000 + i), sc.order, sc.history)
          for i, sc in enumerate(SCENARIOS * 4)]


@pytest.mark.parametrize("chunk", range(4))
def test_random_orders_keep_the_engine_invariants(chunk):
    for order, history in CASES[chunk::4]:
        d = decide(order, KB, history)
        assert d.case_status not in (CaseStatus.NON_AUTHORIZED, CaseStatus.MULTIPLE_DECISIONS)
        assert all(x.status is not DrugStatus.NON_AUTHORIZED for x in d.drugs)
        assert [x.ref for x in d.drugs] == [line.ref for line in order.drugs]
        pended = d.case_status is CaseStatus.IN_PROGRESS
        assert (d.due_by is not None) == pended and bool(d.pend_reasons) == pended
        if d.s_codes:
            assert d.on_pathway and not pended
            assert order.ordering_provider.network_status is not NetworkStatus.OUT_OF_NETWORK
        for x in d.drugs:
            if x.status is DrugStatus.AUTHORIZED:
                assert x.managed and x.authorized_from and x.authorized_to >= x.authorized_from
            if x.status is DrugStatus.IN_PROGRESS:
                assert x.reasons
        if not d.in_program:
            assert d.program_reason is not None and d.case_status is CaseStatus.COMPLETED
        assert d == decide(order, KB, history)
        assert decision_from_dict(decision_to_dict(d)) == d
        assert explain(d).startswith("Case status: ")

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
pytestmark = pytest.mark.unit
