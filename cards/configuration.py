"""What the CDS client asked of the cards: `extension["davinci-crd.configuration"]` read by the
hook door (server/hooks/request.py) into this plain value."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrdConfiguration:
    """`extension["davinci-crd.configuration"]`: card types switched off, max-cards. Unknown keys ignored."""
    disabled: frozenset[str] = frozenset()
    max_cards: int = 10

    def enabled(self, card_type: str) -> bool:
        return card_type not in self.disabled
