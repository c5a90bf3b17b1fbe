"""Decision -> CDS Hooks response (cards + coverage-information systemActions). Pure functions."""
from __future__ import annotations

from cards import cards as c
from cards.context import RenderContext, ref_of
from cards.coverage import Assertion, for_coverage_problem, for_drug, system_action, unmanaged
from server.domain.decision import Decision

# Most important first: what max-cards keeps.
_PRIORITY = ("duplicate-therapy", "coverage-info", "off-guideline", "appropriate-use", "insurance",
             "guideline", "network")


def render(decision: Decision, ctx: RenderContext) -> dict:
    candidates = [c.duplicate_card(decision, ctx), c.pended_card(decision, ctx), c.off_pathway_card(decision, ctx),
                  *c.fn_risk_cards(decision, ctx), c.not_in_program_card(decision, ctx),
                  c.on_pathway_card(decision, ctx), c.network_card(decision, ctx)]
    return {"cards": _select(candidates, ctx), "systemActions": system_actions(decision, ctx)}


def render_unmanaged(ctx: RenderContext) -> dict:
    """No oncology drug among the orders: no cards, `no-auth` on each order."""
    return {"cards": [], "systemActions": system_actions(None, ctx)}


def assertion_for(order: dict, decision: Decision | None, ctx: RenderContext) -> Assertion:
    problem = for_coverage_problem(ctx)
    if problem is not None:
        return problem
    dd = decision.drug(ref_of(order)) if decision is not None else None
    if dd is None or order.get("resourceType") != "MedicationRequest":
        return unmanaged(order)
    return for_drug(dd, decision, ctx, decision.cancer_type)


def system_actions(decision: Decision | None, ctx: RenderContext) -> list[dict]:
    if not ctx.configuration.enabled("coverage-info"):
        return []
    return [system_action(o, assertion_for(o, decision, ctx), ctx) for o in ctx.targets if _names_an_item(o)]


def _names_an_item(order: dict) -> bool:
    """A draft MedicationRequest with no medication yet (a half-filled order form) is nothing
    coverage can be stated for: no action rather than a 'covered' that means nothing."""
    if order.get("resourceType") != "MedicationRequest":
        return True
    concept = order.get("medicationCodeableConcept")
    return bool(order.get("medicationReference")) or (
        isinstance(concept, dict) and bool(concept.get("coding") or concept.get("text")))


def _select(candidates: list[dict | None], ctx: RenderContext) -> list[dict]:
    config = ctx.configuration
    # A card must name at least one of the orders advised on (order-select: the selections).
    cards = [card for card in candidates if card is not None
             and config.enabled(card["source"]["topic"]["code"])
             and card["extension"]["davinci-crd.associated-resource"]]
    cards.sort(key=lambda card: _PRIORITY.index(card["source"]["topic"]["code"]))
    return cards[: config.max_cards]
