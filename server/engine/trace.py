"""The decision trace: every rule the engine applies leaves a line here (R18: auditable)."""
from __future__ import annotations

from server.domain.decision import TraceStep


class Trace:
    """An append-only list of TraceSteps, local to one decision (never shared)."""

    def __init__(self) -> None:
        self._steps: list[TraceStep] = []

    def add(self, rule: str, text: str) -> None:
        self._steps.append(TraceStep(rule, text))

    def steps(self) -> tuple[TraceStep, ...]:
        return tuple(self._steps)
