"""Decision -> CDS Hooks response (cards + coverage-information systemActions). Pure functions."""
from __future__ import annotations

import re

from cards import cards as c
from cards.context import RenderContext, ref_of
from cards.coverage import Assertion, for_coverage_problem, for_drug, system_action, unmanaged
from server.domain.decision import Decision


def render(decision: Decision, ctx: RenderContext) -> dict:
    return {"cards": cards_for(decision, ctx), "systemActions": system_actions(decision, ctx)}


def cards_for(decision: Decision, ctx: RenderContext) -> list[dict]:
    """Most important first (what max-cards keeps): where the request stands, then what else
    the clinician must decide or know. No Coverage: only the card that says so (the
    systemActions say not-covered; nothing else would be true)."""
    status = c.status_card(decision, ctx)
    if ctx.coverage_state == "none":
        return _select([status], ctx)
    candidates = [status, c.duplicate_card(decision, ctx), c.off_pathway_card(decision, ctx)]
    if decision.in_program and c.status_card_kind(decision, ctx) != "pharmacy":
        candidates.append(c.pharmacy_card(decision, ctx))
    candidates += c.fn_risk_cards(decision, ctx, _sentences(status["detail"]) if status else set())
    candidates.append(c.network_card(decision, ctx))
    cards = _drop_repeats(_select(candidates, ctx))
    if cards:
        _add_to_first(cards[0], _first_card_lines(decision, ctx))
    return cards


def _sentences(detail: str) -> set[str]:
    return {line.removeprefix("- ").strip() for line in detail.split("\n")}


def _norm(line: str) -> str:
    line = line.strip().removeprefix("- ")
    line = line.split(":**", 1)[1] if line.startswith("**") and ":**" in line[:40] else line
    return " ".join(line.split()).strip(" .").lower()


def _drop_repeats(cards: list[dict]) -> list[dict]:
    """A note said on one card is not said again on a later one (headings and the Orders line
    are not notes)."""
    seen: set[str] = set()
    for card in cards:
        kept = []
        for line in card["detail"].split("\n"):
            key = _norm(line)
            if line.startswith("**Orders:**") or not key or line.rstrip().endswith(":**") or key not in seen:
                kept.append(line)
            seen.add(key)
        card["detail"] = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return cards


def _first_card_lines(decision: Decision, ctx: RenderContext) -> list[str]:
    lines = c.notice_lines(decision, ctx) if decision.in_program else []
    if ctx.coverage_state == "unavailable":
        lines.append("Coverage could not be read from the EHR; the plan confirms it before payment.")
    missing = c.missing_data_line(ctx)
    if missing:
        lines.append(missing)
    return lines


def _add_to_first(card: dict, lines: list[str]) -> None:
    if not lines:
        return
    detail = card["detail"]
    marker = "\n\n**Orders:**"
    head, sep, tail = detail.partition(marker)
    extra = "\n\n".join(lines)
    card["detail"] = (head + "\n\n" + extra + sep + tail) if sep else (detail + "\n\n" + extra)


def render_unmanaged(ctx: RenderContext) -> dict:
    """No oncology drug among the orders: no cards, `no-auth` on each order (`not-covered`
    without Coverage, which no card contradicts)."""
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
    return cards[: config.max_cards]
