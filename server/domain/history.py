"""What a case on file means for the member's later requests (R7, R8, R15): the facts a
`PriorCase` is made of, taken from a case's order and decision when it is stored."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.domain.decision import Decision, DrugStatus
from server.domain.order import Order

# Drugs that are no longer part of the plan: they neither duplicate (R8) nor extend (R15) it.
INACTIVE_DRUG_STATUSES = frozenset({DrugStatus.VOLUNTARILY_CANCELLED, DrugStatus.NOT_REVIEWED})


@dataclass(frozen=True)
class HistoryFacts:
    drug_keys: tuple[str, ...]
    start_date: date | None
    end_date: date | None
    regimen_id: str | None
    s0353_awarded_on: date | None

    def columns(self) -> dict:
        return {"drug_keys": list(self.drug_keys), "start_date": self.start_date, "end_date": self.end_date,
                "regimen_id": self.regimen_id, "s0353_awarded_on": self.s0353_awarded_on}


def history_facts(order: Order, decision: Decision) -> HistoryFacts:
    """The active drugs, the span the case covers (ordered dates and authorized windows), the
    regimen matched and the day S0353 was awarded."""
    active = [d for d in decision.drugs if d.status not in INACTIVE_DRUG_STATUSES]
    starts = [d.start for d in order.drugs if d.start] + [d.authorized_from for d in active if d.authorized_from]
    ends = [d.end for d in order.drugs if d.end] + [d.authorized_to for d in active if d.authorized_to]
    s0353 = [s.valid_from for s in decision.s_codes if s.code == "S0353"]
    return HistoryFacts(
        drug_keys=tuple(sorted({d.drug_key for d in active if d.drug_key})),
        start_date=order.treatment_start or (min(starts) if starts else None),
        end_date=max(ends) if ends else None,
        regimen_id=decision.pathway.regimen_id if decision.pathway else None,
        s0353_awarded_on=s0353[0] if s0353 else None,
    )
