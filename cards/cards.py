"""CDS cards from a Decision: one function per card type, each returning a card or None.

Every card names its orders twice, as CRD asks: in `davinci-crd.associated-resource` and in
words in `detail`. Summaries are under 140 characters and say what to do.
"""
from __future__ import annotations

import uuid

from cards.codes import (CARD_TYPE_SYSTEM, ONCOPATH_OVERRIDE_SYSTEM, OVERRIDE_REASONS, RXNORM,
                         TOPIC_DISPLAY)
from cards.context import RenderContext, display_of, ref_of
from server.domain.decision import Alternative, CaseStatus, Decision, DeviationKind, DrugStatus, Severity

MAX_SUMMARY = 139


def _clip(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _orders_in_words(orders: list[dict]) -> str:
    return "; ".join(f"{display_of(o)} ({ref_of(o)})" for o in orders)


def _paragraphs(detail: str) -> str:
    """Markdown: a line after a list item is glued to that item unless a blank line ends the
    list, so one is put wherever list items give way to text."""
    out: list[str] = []
    for line in detail.strip().split("\n"):
        if out and out[-1].startswith("- ") and line and not line.startswith("- "):
            out.append("")
        out.append(line)
    return "\n".join(out)


def card(ctx: RenderContext, *, topic: str, indicator: str, summary: str, detail: str,
         orders: list[dict], suggestions: list[dict] | None = None, links: list[dict] | None = None,
         override_reasons: bool = False) -> dict:
    lines = [_paragraphs(detail)] if detail.strip() else []
    if orders:
        lines.append(f"**Orders:** {_orders_in_words(orders)}")
    if ctx.notes:
        lines.append("**Not available from the EHR:** " + "; ".join(ctx.notes))
    out: dict = {
        "uuid": str(uuid.uuid4()),
        "summary": _clip(summary),
        "indicator": indicator,
        "detail": "\n\n".join(lines),
        "source": {"label": ctx.payer_name,
                   "topic": {"system": CARD_TYPE_SYSTEM, "code": topic, "display": TOPIC_DISPLAY[topic]}},
        "extension": {"davinci-crd.associated-resource": [{"reference": ref_of(o)} for o in orders]},
    }
    if suggestions:
        out["suggestions"] = suggestions
        out["selectionBehavior"] = "at-most-one"
    if links:
        out["links"] = links
    if override_reasons:
        out["overrideReasons"] = [{"system": ONCOPATH_OVERRIDE_SYSTEM, "code": c, "display": d}
                                  for c, d in OVERRIDE_REASONS]
    return out


# --- helpers -----------------------------------------------------------------------------

def regimen_orders(decision: Decision, ctx: RenderContext) -> list[dict]:
    """The target orders the engine reviewed (its DrugDecisions), in the order sent."""
    refs = {d.ref for d in decision.drugs}
    return [o for o in ctx.targets if ref_of(o) in refs]


def _orders_for_drug(decision: Decision, ctx: RenderContext, drug_key: str | None) -> list[dict]:
    refs = {d.ref for d in decision.drugs if drug_key is None or d.drug_key == drug_key}
    return [o for o in ctx.targets if ref_of(o) in refs]


def _cancer_name(decision: Decision, ctx: RenderContext) -> str:
    kb = ctx.knowledge
    if decision.cancer_type and kb is not None and decision.cancer_type in kb.cancer_types:
        return kb.cancer_types[decision.cancer_type].name
    return decision.cancer_type or "this cancer"


def _extras(decision: Decision) -> list[str]:
    lines = [f"- Precision benefit (R19): {p.text}" for p in decision.precision_benefits]
    lines += [f"- Clinical trial option (R20): {t.text}" + ("" if t.nct_id in t.text else f" ({t.nct_id}, arm {t.arm})")
              for t in decision.trial_pointers]
    lines += [f"- {n.text}" for n in decision.notices if not _is_duplicate(n.code) and not _is_network(n.code)]
    return lines


def _is_duplicate(code: str) -> bool:
    return "duplicate" in code


def _is_network(code: str) -> bool:
    return "network" in code


def _find_regimen(ctx: RenderContext, pathway_id: str, regimen_id: str):
    kb = ctx.knowledge
    for p in getattr(kb, "pathways", ()) or ():
        if p.id == pathway_id:
            for r in p.regimens:
                if r.id == regimen_id:
                    return r
    return None


def _dosage_text(rd) -> str:
    parts = []
    if rd.dose is not None:
        parts.append(f"{rd.dose:g} {rd.dose_unit or ''}".strip())
    if rd.cycle_length_days:
        days = ", ".join(str(d) for d in rd.administration_days) or "1"
        parts.append(f"day {days} of a {rd.cycle_length_days}-day cycle")
    if rd.until_progression:
        parts.append("until progression")
    elif rd.cycles:
        parts.append(f"{rd.cycles} cycles")
    return ", ".join(parts)


def _status_words(decision: Decision, ctx: RenderContext) -> str:
    case = decision.case_status
    if case is CaseStatus.AUTHORIZED:
        return f"authorized (Order {ctx.order_id})" if ctx.order_id else "meets policy; authorized when signed"
    if case is CaseStatus.IN_PROGRESS:
        return "pended for review" + (f" (Order {ctx.order_id})" if ctx.order_id else "")
    if case is CaseStatus.COMPLETED:
        return "no medical-benefit authorization needed"
    return case.value.lower()


# --- suggestions -------------------------------------------------------------------------

def alternative_suggestion(alt: Alternative, decision: Decision, ctx: RenderContext, recommended: bool) -> dict:
    """Delete the drafts of the ordered regimen, create the pathway regimen's drugs (RxNorm from the KB)."""
    kb = ctx.knowledge
    drafts = [o for o in regimen_orders(decision, ctx) if o.get("resourceType") == "MedicationRequest"]
    supportive = set()
    for d in decision.drugs:
        drug = kb.drugs.get(d.drug_key) if (kb is not None and d.drug_key) else None
        if drug is not None and drug.category.value == "supportive":
            supportive.add(d.ref)
    to_delete = [o for o in drafts if ref_of(o) not in supportive]
    template = (to_delete or drafts or ctx.targets or [{}])[0]
    regimen = _find_regimen(ctx, alt.pathway_id, alt.regimen_id)
    doses = {rd.drug_key: rd for rd in (regimen.drugs if regimen else ())}

    actions: list[dict] = [{"type": "delete", "description": f"Remove {display_of(o)} ({ref_of(o)})",
                            "resourceId": ref_of(o)} for o in to_delete]
    for key in alt.drug_keys:
        drug = kb.drugs.get(key) if kb is not None else None
        name = drug.name if drug is not None else key
        concept: dict = {"text": name}
        if drug is not None and drug.rxnorm:
            concept["coding"] = [{"system": RXNORM, "code": drug.rxnorm[0], "display": name}]
        resource: dict = {"resourceType": "MedicationRequest", "id": f"oncopath-{alt.regimen_id}-{key}",
                          "status": "draft", "intent": template.get("intent", "order"),
                          "medicationCodeableConcept": concept}
        for field in ("subject", "encounter", "requester", "authoredOn"):
            if field in template:
                resource[field] = template[field]
        if key in doses and _dosage_text(doses[key]):
            resource["dosageInstruction"] = [{"text": _dosage_text(doses[key])}]
        actions.append({"type": "create", "description": f"Add {name} ({alt.regimen_name})", "resource": resource})
    label = f"Switch to {alt.regimen_name} (on pathway)"
    if alt.precision:
        label += " — biomarker-matched"
    elif not alt.criteria_met:
        label += " — if eligibility is confirmed"
    return {"label": _clip(label, 120), "uuid": str(uuid.uuid4()),
            "isRecommended": recommended and alt.criteria_met,
            "actions": actions}


# --- cards -------------------------------------------------------------------------------

def on_pathway_card(decision: Decision, ctx: RenderContext) -> dict | None:
    if not decision.in_program or not decision.on_pathway:
        return None
    m = decision.pathway
    orders = regimen_orders(decision, ctx)
    status = _status_words(decision, ctx)
    lines = [f"The regimen matches pathway **{m.pathway_name}**, regimen **{m.regimen_name}** "
             f"(knowledge base {m.kb_version}).",
             f"- Pathway Eligible ID: {m.pathway_eligible_id}"]
    if ctx.order_id:
        lines.append(f"- Order ID: {ctx.order_id}")
    for d in decision.drugs:
        if d.status is DrugStatus.AUTHORIZED and d.authorized_from and d.authorized_to:
            lines.append(f"- {d.display}: authorized {d.authorized_from.isoformat()} to {d.authorized_to.isoformat()}"
                         + (f", HCPCS {d.hcpcs}" if d.hcpcs else "")
                         + (f", {d.billing_units:g} units" if d.billing_units is not None else ""))
    for s in decision.s_codes:
        lines.append(f"- {s.code}: bill {s.valid_from.isoformat()} to {s.valid_to.isoformat()}, "
                     f"up to {s.max_units} unit(s)" + (f" — {s.note}" if s.note else ""))
    lines += _extras(decision)
    return card(ctx, topic="guideline", indicator="info",
                summary=f"On pathway: {m.regimen_name} — {status}", detail="\n".join(lines), orders=orders)


def off_pathway_card(decision: Decision, ctx: RenderContext) -> dict | None:
    if not decision.in_program or decision.on_pathway or decision.cancer_type is None:
        return None
    deviations = [d for d in decision.deviations if d.kind is DeviationKind.CUSTOM_TREATMENT_PLAN]
    if not decision.alternatives and not deviations:
        return None   # e.g. matched but pended, or a supportive-only request: the pended card says why
    orders = regimen_orders(decision, ctx)
    alts = decision.alternatives
    cancer = _cancer_name(decision, ctx)
    lines = [f"The regimen ordered is not on a treatment pathway for {cancer}."]
    lines += [f"- {d.text}" for d in deviations]
    if decision.case_status.value == "Authorized":
        lines.append("It is authorized under medical policy, without pathway enhanced reimbursement (R4).")
    if alts:
        lines.append("On-pathway alternatives: " + "; ".join(a.regimen_name for a in alts) + ".")
    lines += _extras(decision)
    if alts:
        summary = f"Off pathway for {cancer}: {len(alts)} on-pathway alternative" + ("s" if len(alts) > 1 else "")
        if len(alts) == 1:
            summary = f"Off pathway for {cancer}: consider {alts[0].regimen_name}"
    else:
        summary = f"Off pathway for {cancer}: no on-pathway regimen fits these findings"
    suggestions = [alternative_suggestion(a, decision, ctx, i == 0) for i, a in enumerate(alts)]
    return card(ctx, topic="off-guideline", indicator="warning", summary=summary, detail="\n".join(lines),
                orders=orders, suggestions=suggestions, override_reasons=bool(suggestions))


def pended_card(decision: Decision, ctx: RenderContext) -> dict | None:
    if not decision.in_program or not decision.pended:
        return None
    orders = [o for o in regimen_orders(decision, ctx)
              if (d := decision.drug(ref_of(o))) is not None and d.status is DrugStatus.IN_PROGRESS] \
        or regimen_orders(decision, ctx)
    # A duplicate and an FN-risk deviation have their own cards; this one says what else is
    # needed, and repeats them only when nothing else is.
    def own_card(code: str) -> bool:
        return (_is_duplicate(code) and ctx.configuration.enabled("duplicate-therapy")) or \
            (code == DeviationKind.FN_RISK.value and ctx.configuration.enabled("appropriate-use"))

    items: list[str] = []
    elsewhere: list[str] = []
    for code, text in [(d.kind.value, d.text) for d in decision.deviations if d.severity is Severity.PEND] + \
            [(r.code, r.text) for r in decision.pend_reasons]:
        bucket = elsewhere if own_card(code) else items
        if text not in bucket:
            bucket.append(text)
    items = items or elsewhere
    # order-select only advises: nothing is submitted or stored, so nothing "is" pended yet.
    advisory = ctx.hook != "order-sign"
    lead = "Would pend for review" if advisory else "Pended for review"
    more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
    summary = f"{lead}: {items[0]}{more}" if items else f"{lead}: clinical review"
    if len(summary) > MAX_SUMMARY:
        summary = _clip(f"{lead}: {items[0]}", MAX_SUMMARY - len(more)) + more
    lines = ["If signed as is, prior authorization would be pended for clinical review (no automated "
             "denial). What is needed:" if advisory else
             "Prior authorization is pended for clinical review (no automated denial). What is needed:"]
    lines += [f"- {t}" for t in items] or ["- clinical review of the regimen"]
    if ctx.order_id and not advisory:
        lines.append(f"Order ID {ctx.order_id} (status In Progress).")
    if decision.due_by is not None and not advisory:
        lines.append(f"Review due by {decision.due_by.strftime('%Y-%m-%d %H:%M UTC')}.")
    lines.append("Complete the worksheet linked below and send it with the request.")
    lines += _extras(decision)
    links = []
    if ctx.worksheet_url is not None:
        links.append({"label": f"Oncology worksheet: {_cancer_name(decision, ctx)}",
                      "url": ctx.worksheet_url(decision.cancer_type), "type": "absolute"})
    return card(ctx, topic="coverage-info", indicator="warning", summary=summary, detail="\n".join(lines),
                orders=orders, links=links)


def fn_risk_cards(decision: Decision, ctx: RenderContext) -> list[dict]:
    out = []
    if not decision.in_program:
        return out
    for dev in decision.deviations:
        if dev.kind is not DeviationKind.FN_RISK:
            continue
        orders = _orders_for_drug(decision, ctx, dev.drug_key) if dev.drug_key else regimen_orders(decision, ctx)
        if not orders:
            continue
        out.append(card(ctx, topic="appropriate-use", indicator="warning",
                        summary=f"Growth factor: {dev.text}",
                        detail=f"Febrile-neutropenia risk check (R6): {dev.text}", orders=orders))
    return out


def duplicate_card(decision: Decision, ctx: RenderContext) -> dict | None:
    notices = [n for n in decision.notices if _is_duplicate(n.code)]
    if decision.duplicate_of is None and not notices:
        return None
    orders = regimen_orders(decision, ctx)
    if not orders:
        return None
    on_file = f"Order {decision.duplicate_of}" if decision.duplicate_of else "a similar request"
    lines = [f"{on_file} is on file for this patient with a similar regimen or overlapping dates (R8)."]
    lines += [f"- {n.text}" for n in notices]
    lines.append("If it is the same treatment, cancel this order; otherwise say why it differs.")
    return card(ctx, topic="duplicate-therapy", indicator="warning",
                summary=f"Possible duplicate: {on_file} is on file for a similar regimen",
                detail="\n".join(lines), orders=orders)


def not_in_program_card(decision: Decision, ctx: RenderContext) -> dict | None:
    if decision.in_program:
        return None
    orders = regimen_orders(decision, ctx)
    if not orders:
        return None
    text = decision.program_reason.text if decision.program_reason else "outside the oncology program"
    return card(ctx, topic="insurance", indicator="info",
                summary=f"Not reviewed by the oncology program: {text}",
                detail=f"{text}. The health plan's usual prior authorization rules apply (R12).", orders=orders)


def network_card(decision: Decision, ctx: RenderContext) -> dict | None:
    notices = [n for n in decision.notices if _is_network(n.code)]
    orders = regimen_orders(decision, ctx)
    if not notices or not orders:
        return None
    return card(ctx, topic="network", indicator="info", summary=notices[0].text,
                detail="\n".join(f"- {n.text}" for n in notices), orders=orders)
