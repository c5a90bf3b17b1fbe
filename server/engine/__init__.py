"""The review engine: `decide(order, knowledge, history) -> Decision`, pure and traced."""
from .decide import decide

__all__ = ["decide"]
