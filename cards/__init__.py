"""Decision -> CDS Hooks cards and CRD coverage-information systemActions (pure functions)."""
from cards.context import RenderContext
from cards.render import render, render_unmanaged

__all__ = ["RenderContext", "render", "render_unmanaged"]
