"""CDS cards from a Decision: one card per thing the clinician must decide or know.

`render` puts them most important first: the card that says where the request stands
(authorized, pended, pharmacy benefit, not in the program, no coverage), then a possible
duplicate, the off-pathway alternatives, the pharmacy-benefit drugs, growth-factor and network
notes. Every card names its orders in `davinci-crd.associated-resource` and in words in
`detail` (CRD dev-24/25), never by resource id. Summaries are complete sentences under 140
characters; the words come from `cards.wording`.
"""
from __future__ import annotations

import re
import uuid
from mappings.draft_orders import is_medication_request
from datetime import date

from cards.codes import (CARD_TYPE_SYSTEM, ONCOPATH_OVERRIDE_SYSTEM, OVERRIDE_REASONS, RXNORM,
                         TOPIC_DISPLAY)
from cards.context import RenderContext, display_of, ref_of, words_of
from cards.wording import (MAX_REASONS, Finding, clean, deviation_findings, drug_words, join_words, off_pathway_regimen,
                           off_pathway_why, pend_findings, sentence, urgent, words)
from server.domain.decision import Alternative, CaseStatus, Decision, DeviationKind, DrugStatus, Severity
from server.worksheets import links

MAX_SUMMARY = 139
_NOTE_WORDS = {"labs": "lab results", "assessments": "assessments (ECOG, stage)", "conditions": "diagnoses",
               "medications": "medication history", "coverage": "coverage", "patient": "patient record",
               "practitioner": "ordering clinician", "encounter": "encounter"}


def fit(*candidates: str) -> str:
    """The first candidate that fits a summary; the last one is short by construction."""
    for text in candidates:
        text = " ".join(text.split())
        if text and len(text) <= MAX_SUMMARY:
            return text
    last = " ".join(candidates[-1].split())
    cut = last[:MAX_SUMMARY - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _day(d: date) -> str:
    return f"{d.day} {d.strftime('%b %Y')}"


def _when(dt) -> str:
    return f"{dt.strftime('%a')} {dt.day} {dt.strftime('%b %Y, %H:%M')} UTC"


def _paragraphs(lines: list[str]) -> str:
    """Markdown: each note its own paragraph (a single newline would run them together);
    list items stay one list."""
    out: list[str] = []
    for line in "\n".join(lines).strip().split("\n"):
        if not line.strip():
            continue
        if out:
            both_items = out[-1].startswith("- ") and line.startswith("- ")
            out.append("\n" if both_items else "\n\n")
        out.append(line)
    return "".join(out)


def card(ctx: RenderContext, *, topic: str, indicator: str, summary: str, detail: list[str],
         orders: list[dict], suggestions: list[dict] | None = None, links_: list[dict] | None = None,
         override_reasons: bool = False) -> dict:
    lines = list(detail)
    if orders:
        lines.append("**Orders:** " + "; ".join(dict.fromkeys(words_of(o) for o in orders)))
    source: dict = {"label": ctx.payer_name}
    url = source_url(ctx)
    if url:
        source["url"] = url
    source["topic"] = {"system": CARD_TYPE_SYSTEM, "code": topic, "display": TOPIC_DISPLAY[topic]}
    out: dict = {
        "uuid": str(uuid.uuid4()),
        "summary": fit(summary),
        "indicator": indicator,
        "detail": _paragraphs(lines),
        "source": source,
        "extension": {"davinci-crd.associated-resource": [{"reference": ref_of(o)} for o in orders]},
    }
    if suggestions:
        out["suggestions"] = suggestions
        out["selectionBehavior"] = "at-most-one"
    if links_:
        out["links"] = links_
    if override_reasons:
        out["overrideReasons"] = [{"system": ONCOPATH_OVERRIDE_SYSTEM, "code": c, "display": d}
                                  for c, d in OVERRIDE_REASONS]
    return out


def source_url(ctx: RenderContext) -> str | None:
    """The provider's status page of this case (Order ID prefilled), else the portal."""
    base = ctx.service.base_url
    if not base:
        return None
    return f"{base}/portal/status?order_id={ctx.order_id}" if ctx.order_id else f"{base}/portal/"


def missing_data_line(ctx: RenderContext) -> str | None:
    if not ctx.notes:
        return None
    names: list[str] = []
    for note in ctx.notes:
        key, _, why = note.partition(":")
        if key.strip() == "coverage" and ctx.coverage_state == "unavailable":
            continue          # said once, in the coverage line of the first card
        name = _NOTE_WORDS.get(key.strip(), key.strip())
        names.append(f"{name} ({why.strip()})" if why.strip() else name)
    return ("**Not received from the EHR:** " + join_words(names) + ".") if names else None


# --- what the decision is about --------------------------------------------------------------

def regimen_orders(decision: Decision, ctx: RenderContext) -> list[dict]:
    """The target orders the engine reviewed (its DrugDecisions), in the order sent."""
    refs = {d.ref for d in decision.drugs}
    return [o for o in ctx.targets if ref_of(o) in refs]


def _orders_with(decision: Decision, ctx: RenderContext, statuses) -> list[dict]:
    refs = {d.ref for d in decision.drugs if d.status in statuses}
    return [o for o in ctx.targets if ref_of(o) in refs]


def _orders_for_drug(decision: Decision, ctx: RenderContext, drug_key: str | None) -> list[dict]:
    refs = {d.ref for d in decision.drugs if drug_key is None or d.drug_key == drug_key}
    return [o for o in ctx.targets if ref_of(o) in refs]


def cancer_name(decision: Decision, ctx: RenderContext) -> str:
    kb = ctx.knowledge
    if decision.cancer_type and kb is not None and decision.cancer_type in kb.cancer_types:
        name = kb.cancer_types[decision.cancer_type].name
        return name[0].lower() + name[1:] if name[1:2].islower() else name
    return "this cancer"


def _find_regimen(ctx: RenderContext, pathway_id: str, regimen_id: str):
    for p in getattr(ctx.knowledge, "pathways", ()) or ():
        if p.id == pathway_id:
            return next((r for r in p.regimens if r.id == regimen_id), None)
    return None


def _managed_in_regimen(decision: Decision) -> bool:
    """Does the program review any drug of this request (medical benefit, not an oral drug)?"""
    return any(d.managed and d.status is not DrugStatus.OTHER_IMPACT for d in decision.drugs)


def _days(days: tuple[int, ...]) -> str:
    days = tuple(sorted(set(days))) or (1,)
    if len(days) == 1:
        return f"day {days[0]}"
    if days == tuple(range(days[0], days[-1] + 1)):
        return f"days {days[0]}–{days[-1]}"
    step = days[1] - days[0]
    if len(days) > 3 and all(b - a == step for a, b in zip(days, days[1:])):
        # weekly x7 within a 56-day cycle reads 'every 7 days from day 1 to day 43', not seven numbers
        return f"every {step} days, days {days[0]}–{days[-1]}"
    return "days " + ", ".join(str(d) for d in days[:-1]) + f" and {days[-1]}"


def dosage_text(rd) -> str:
    """'75 mg/m2, day 1 of a 21-day cycle, 6 cycles' — 'days 1–28', never 'day 1, 2, 3, …'."""
    parts = []
    if rd.dose is not None:
        parts.append(f"{rd.dose:g} {rd.dose_unit or ''}".strip())
    if rd.cycle_length_days:
        parts.append(f"{_days(tuple(rd.administration_days))} of a {rd.cycle_length_days}-day cycle")
    if rd.until_progression:
        parts.append("until progression")
    elif rd.cycles:
        parts.append(f"{rd.cycles} cycles")
    return ", ".join(parts)


def _short_regimen(name: str, limit: int = 28) -> str:
    """'THP (docetaxel, trastuzumab, pertuzumab)' -> 'THP' for a button label."""
    if len(name) <= limit:
        return name
    head = name.split(" (")[0].strip()
    if len(head) > limit and " or " in head:
        head = head.split(" or ")[0].strip()        # "X + paclitaxel or nab-paclitaxel" -> "X + paclitaxel"
    return head if len(head) <= limit + 10 else head[:limit + 10].rsplit(" ", 1)[0].rstrip(" +,")


def _precision_lines(decision: Decision, ctx: RenderContext) -> list[str]:
    """R19, once (two drugs sharing one precision benefit: one line)."""
    kb = ctx.knowledge
    by_text: dict[str, list[str]] = {}
    for p in decision.precision_benefits:
        text = re.sub(r"^biomarker-matched( targeted)? therapy:\s*", "", clean(p.text, kb), flags=re.I)
        by_text.setdefault(text.replace("; ", " and "), []).append(drug_words(p.drug_key, kb))
    return [f"**Biomarker-matched therapy** ({join_words(drugs)}): {text.rstrip('.')}."
            for text, drugs in by_text.items()]


def _trial_lines(decision: Decision) -> list[str]:
    """R20: precision-medicine trial arms, for a patient with no pathway option."""
    trials = list(dict.fromkeys(f"{t.nct_id} (arm {t.arm.split(' - ')[0]}: {t.drug})" for t in decision.trial_pointers))
    return [f"**Trial options:** {join_words(trials)}."] if trials else []


# --- the status card -------------------------------------------------------------------------

def status_card_kind(decision: Decision, ctx: RenderContext) -> str:
    if ctx.coverage_state == "none":
        return "no-coverage"
    if not decision.in_program:
        return "not-in-program"
    if decision.case_status is CaseStatus.AUTHORIZED:
        return "authorized"
    if decision.pended:
        return "pended"
    if any(d.status is DrugStatus.OTHER_IMPACT for d in decision.drugs):
        return "pharmacy"
    return "no-review"


def status_card(decision: Decision, ctx: RenderContext) -> dict | None:
    """The card that says where the request stands: first, whatever else is shown."""
    return {"no-coverage": no_coverage_card, "not-in-program": not_in_program_card,
            "authorized": authorized_card, "pended": pended_card, "pharmacy": pharmacy_card,
            "no-review": no_review_card}[status_card_kind(decision, ctx)](decision, ctx)


def no_coverage_card(decision: Decision | None, ctx: RenderContext) -> dict | None:
    """No Coverage in the record: the systemActions say `not-covered` / no-active-coverage;
    this says the same in words, and what to do. No Order ID: nothing was requested."""
    orders = regimen_orders(decision, ctx) if decision is not None else list(ctx.targets)
    if not orders:
        return None
    contact = ctx.service.review_contact
    detail = ["The EHR sent no active coverage for this patient, so the plan cannot confirm membership in "
              "the oncology program. **Nothing was authorized** and no prior authorization request was opened.",
              "**What to do:** add or update the patient's insurance in the EHR, then sign the orders again. "
              f"If the patient is a member of this plan, call {contact}."]
    return card(ctx, topic="insurance", indicator="warning",
                summary="No active coverage on file: nothing was authorized. Update the patient's insurance "
                        "and sign again.", detail=detail, orders=orders)


def not_in_program_card(decision: Decision, ctx: RenderContext) -> dict | None:
    orders = regimen_orders(decision, ctx)
    if not orders:
        return None
    reason = decision.program_reason
    code = reason.code if reason else ""
    if code == "member-not-in-program":
        plan = reason.text.split(" member:", 1)[0].strip() or "This"
        plan_words = plan if plan.lower().endswith("plan") else f"{plan} plan"
        summary = fit(f"{plan_words}: not in the oncology program. Request prior authorization from the health "
                      "plan as usual.", "Not in the oncology program: request prior authorization from the "
                      "health plan.")
        detail = [f"The patient's coverage ({plan}) is outside the oncology prior authorization program, which "
                  "serves Medicare Advantage members. Nothing was requested from the program.",
                  "**What to do:** request prior authorization through the health plan's usual process."]
    elif code == "no-member-found":
        summary = "The plan found no member for this coverage: nothing was authorized. Check the insurance details."
        detail = ["The coverage sent does not match a member of this plan. **Nothing was authorized.**",
                  f"**What to do:** check the patient's insurance in the EHR and sign again, or call "
                  f"{ctx.service.review_contact}."]
    elif code in ("diagnosis-not-oncology", "not-oncology-drug-request"):
        summary = "Not an oncology diagnosis: the oncology program does not review these orders."
        detail = ["The diagnosis on the order is not a cancer diagnosis (ICD-10-CM C00–D49), so the oncology "
                  "prior authorization program does not review these orders.",
                  "**What to do:** follow the health plan's usual prior authorization rules. If this is cancer "
                  "treatment, add the cancer diagnosis to the order and sign again."]
    else:
        why = words(reason.text, ctx.knowledge) if reason else "These orders are outside the oncology program."
        summary = fit(f"Not reviewed by the oncology program: {why}", "Not reviewed by the oncology program.")
        detail = [why, "**What to do:** follow the health plan's usual prior authorization rules."]
    return card(ctx, topic="insurance", indicator="info", summary=summary, detail=detail, orders=orders)


def authorized_card(decision: Decision, ctx: RenderContext) -> dict | None:
    orders = regimen_orders(decision, ctx)
    authorized = [o for o in orders if (d := decision.drug(ref_of(o))) and d.status is DrugStatus.AUTHORIZED]
    if not authorized:
        return None
    m = decision.pathway
    regimen = m.regimen_name if m else None
    short = _short_regimen(regimen) if regimen else None
    oid = ctx.order_id
    if decision.on_pathway:
        summary = fit(f"Authorized: Order ID {oid}. {regimen} is on pathway." if oid else
                      f"Meets policy and pathway: {regimen} is authorized when signed.",
                      f"Authorized: Order ID {oid}. {short} is on pathway." if oid else
                      f"Meets policy and pathway: {short} is authorized when signed.",
                      f"Authorized: Order ID {oid}, on pathway." if oid else "Meets policy: authorized when signed.")
    else:
        summary = fit(f"Authorized under medical policy: Order ID {oid}. The regimen is off pathway." if oid else
                      "Meets medical policy: authorized when signed (off pathway).",
                      f"Authorized: Order ID {oid} (off pathway)." if oid else "Meets policy: authorized when signed.")
    detail: list[str] = []
    if oid:
        detail.append(f"**Order ID {oid}** — give it on claims and when you call about this order.")
        detail.append("**Authorized:**")
    else:
        detail.append("**Meets medical policy** (authorized when signed, with an Order ID):")
    for o in authorized:
        d = decision.drug(ref_of(o))
        name = drug_words(d.drug_key, ctx.knowledge) if d.drug_key else words_of(o)
        parts = []
        if d.hcpcs:
            parts.append(f"HCPCS {d.hcpcs}")
        if d.authorized_from and d.authorized_to:
            parts.append(f"{_day(d.authorized_from)} to {_day(d.authorized_to)}")
        if d.billing_units is not None:
            parts.append(f"{d.billing_units:g} units")
        detail.append(f"- {name[0].upper() + name[1:]}" + (": " + ", ".join(parts) if parts else ""))
    if decision.on_pathway:
        detail.append(f"**On pathway:** {clean(m.pathway_name)} — Pathway Eligible ID {m.pathway_eligible_id}.")
        detail += _s_code_lines(decision)
    detail += _precision_lines(decision, ctx)
    others = [d for d in decision.drugs if d.status is DrugStatus.IN_PROGRESS]
    if others:
        detail.append(f"Still in review: {join_words([drug_words(d.drug_key, ctx.knowledge) for d in others])}.")
    return card(ctx, topic="guideline" if decision.on_pathway else "coverage-info", indicator="info",
                summary=summary, detail=detail, orders=orders)


def _s_code_lines(decision: Decision) -> list[str]:
    lines = []
    for s in decision.s_codes:
        if s.code == "S0353":
            lines.append(f"- S0353: bill once, on {_day(s.valid_from)} (start of the pathway regimen).")
        else:
            lines.append(f"- {s.code}: at most monthly, {_day(s.valid_from)} to {_day(s.valid_to)} "
                         f"(up to {s.max_units}).")
    return (["**Enhanced reimbursement (ordering provider only):**"] + lines) if lines else []


def _own_card_codes(decision: Decision, ctx: RenderContext) -> frozenset[str]:
    """Findings another card states: the pended card leaves them out unless nothing else pends."""
    codes = set()
    if ctx.configuration.enabled("duplicate-therapy") and (decision.duplicate_of or any(
            "duplicate" in n.code for n in decision.notices)):
        codes.add("duplicate-order")
    if ctx.configuration.enabled("appropriate-use"):
        codes.add(DeviationKind.FN_RISK.value)
    if ctx.configuration.enabled("off-guideline") and _off_pathway_shown(decision, ctx):
        codes.add(DeviationKind.CUSTOM_TREATMENT_PLAN.value)
    return frozenset(codes)


def pended_findings(decision: Decision, ctx: RenderContext) -> list[Finding]:
    cancer = cancer_name(decision, ctx)
    found = pend_findings(decision, ctx.knowledge, cancer, skip_codes=_own_card_codes(decision, ctx))
    return found or pend_findings(decision, ctx.knowledge, cancer)


def pended_card(decision: Decision, ctx: RenderContext) -> dict | None:
    orders = _orders_with(decision, ctx, {DrugStatus.IN_PROGRESS}) or regimen_orders(decision, ctx)
    if not orders:
        return None
    findings = pended_findings(decision, ctx)
    top = findings[:MAX_REASONS]
    advisory = ctx.hook != "order-sign"      # order-select: nothing is submitted yet
    oid = None if advisory else ctx.order_id
    lead = "Would be pended for review" if advisory else "Pended for review"
    first = top[0].short if top else "clinical review"
    summary = fit(f"{lead}: {first}." + (f" Order ID {oid}." if oid else ""),
                  f"{lead}: {first}.",
                  f"{lead}" + (f": Order ID {oid}." if oid else "."))
    detail = ["**Why:**"]
    detail += [f"- {f.text}" for f in top] or ["- The regimen needs a clinical reviewer's look."]
    more = findings[MAX_REASONS:]
    if more:
        detail.append("The reviewer also checks: " + "; ".join(f.short for f in more) + ".")
    sends = list(dict.fromkeys(f.send for f in findings if f.send))
    worksheet = worksheet_link(decision, ctx)
    how = "fill in the worksheet linked below" if worksheet else "send it with the request"
    if sends:
        items = sends[:3]
        listed = "; ".join(items) if any("," in i for i in items) else join_words(items)
        detail.append(f"**What to send:** {listed} — {how}.")
    else:
        detail.append(f"**What to send:** notes supporting the regimen — {how}.")
    if decision.due_by is not None and not advisory:
        is_urgent = urgent(decision)
        why = {True: " (urgent request: decided within 24 hours)",
               False: " (standard request: decided within 3 business days)"}.get(is_urgent, "")
        detail.append(f"**Decision due by:** {_when(decision.due_by)}{why}. Sooner if the missing "
                      "information arrives: a complete worksheet is decided at once.")
    done = [d for d in decision.drugs if d.status is DrugStatus.AUTHORIZED]
    if done:
        names = join_words([drug_words(d.drug_key, ctx.knowledge) if d.drug_key else d.display for d in done])
        detail.append(f"**{'Would be authorized' if advisory else 'Already authorized'}:** {names}.")
    if oid:
        detail.append(f"**Order ID {oid}** (In Progress). No automated denial: only a reviewing oncologist "
                      "can deny, after offering you a peer-to-peer discussion.")
    if not advisory:
        detail.append(f"**Peer-to-peer:** call {ctx.service.review_contact} with the Order ID.")
    if not _off_pathway_shown(decision, ctx):
        detail += _trial_lines(decision)
    return card(ctx, topic="coverage-info", indicator="warning", summary=summary, detail=detail,
                orders=orders, links_=[worksheet] if worksheet else None)


def worksheet_link(decision: Decision, ctx: RenderContext) -> dict | None:
    """The HTML worksheet of this case (signed link); order-select has no case yet."""
    service = ctx.service
    if not (ctx.order_id and service.base_url and service.link_key) or ctx.hook != "order-sign":
        return None
    return {"label": f"Fill in the worksheet ({cancer_name(decision, ctx)})",
            "url": links.form_url(service.base_url, ctx.order_id, service.link_key), "type": "absolute"}


def pharmacy_card(decision: Decision, ctx: RenderContext) -> dict | None:
    drugs = [d for d in decision.drugs if d.status is DrugStatus.OTHER_IMPACT]
    orders = _orders_with(decision, ctx, {DrugStatus.OTHER_IMPACT})
    if not drugs or not orders:
        return None
    kb = ctx.knowledge
    names = join_words([drug_words(d.drug_key, kb) if d.drug_key else d.display for d in drugs])
    plural = len({d.drug_key for d in drugs}) > 1
    name_cap = names[0].upper() + names[1:]
    summary = fit(f"{name_cap}: pharmacy benefit. The PBM reviews {'them' if plural else 'it'}, not this program.",
                  "Oral drugs on this order are reviewed by the pharmacy benefit manager, not this program.")
    contact = ctx.service.pharmacy_contact
    detail = [f"{name_cap} {'are' if plural else 'is'} covered under the pharmacy benefit. The oncology "
              "program does not review or authorize "
              f"{'them' if plural else 'it'}.",
              f"**Who reviews it:** {contact}.",
              "**What to do:** send the prescription to the specialty pharmacy; it requests any prior "
              "authorization from the PBM."]
    if decision.on_pathway and decision.case_status is not CaseStatus.AUTHORIZED:
        m = decision.pathway
        detail.append(f"**On pathway:** {clean(m.pathway_name)} — Pathway Eligible ID {m.pathway_eligible_id}.")
        detail += _s_code_lines(decision)
    return card(ctx, topic="coverage-info", indicator="info", summary=summary, detail=detail, orders=orders)


def no_review_card(decision: Decision, ctx: RenderContext) -> dict | None:
    orders = regimen_orders(decision, ctx)
    if not orders:
        return None
    reasons = list(dict.fromkeys(words(r.text, ctx.knowledge) for d in decision.drugs for r in d.reasons))
    return card(ctx, topic="coverage-info", indicator="info",
                summary="No prior authorization is needed from the oncology program for these orders.",
                detail=reasons[:2] or ["The oncology program does not review these orders."], orders=orders)


# --- the other cards --------------------------------------------------------------------------

def _off_pathway_shown(decision: Decision, ctx: RenderContext) -> bool:
    key = ("off-pathway", id(decision))
    if key not in ctx.memo:
        ctx.memo[key] = _off_pathway_applies(decision, ctx)
    return ctx.memo[key]


def _off_pathway_applies(decision: Decision, ctx: RenderContext) -> bool:
    if not decision.in_program or decision.on_pathway or decision.cancer_type is None:
        return False
    if not _managed_in_regimen(decision):
        return False    # oral drugs only: the PBM's business, no pathway advice from this program
    custom = any(d.kind is DeviationKind.CUSTOM_TREATMENT_PLAN for d in decision.deviations)
    mismatch = any(d.kind is DeviationKind.BIOMARKER_MISMATCH for d in decision.deviations)
    return bool(decision.alternatives or custom or mismatch) and bool(regimen_orders(decision, ctx))


def off_pathway_card(decision: Decision, ctx: RenderContext) -> dict | None:
    if not _off_pathway_shown(decision, ctx):
        return None
    kb = ctx.knowledge
    orders = regimen_orders(decision, ctx)
    cancer = cancer_name(decision, ctx)
    alts = list(decision.alternatives)
    why = None
    for dev in decision.deviations:
        if dev.kind is DeviationKind.BIOMARKER_MISMATCH:
            why = off_pathway_why(dev, kb, off_pathway_regimen(decision))
            break
        if dev.kind is DeviationKind.CUSTOM_TREATMENT_PLAN:
            why = deviation_findings(dev, kb, cancer)[0].text
            break
    detail = [f"**Why:** {why or sentence('the regimen does not match a pathway regimen for ' + cancer)}"]
    if decision.case_status is CaseStatus.AUTHORIZED:
        detail.append("It is authorized under medical policy, without pathway enhanced reimbursement.")
    if alts:
        detail.append("**On-pathway regimens for this patient's setting and biomarkers:**")
        for a in alts:
            caveat = "" if a.criteria_met else " — if the clinical criteria are confirmed"
            tag = " (biomarker-matched)" if a.precision else ""
            detail.append(f"- {a.regimen_name}{tag}{caveat}")
        detail.append("To keep this regimen, sign it as is and give the reason when asked.")
    else:
        detail.append("No on-pathway regimen fits this patient's findings; the reviewer will consider the "
                      "regimen on its merits.")
    if not alts:
        detail += _trial_lines(decision)
    if alts:
        first = _short_regimen(alts[0].regimen_name, 60)
        summary = fit(f"Off pathway for {cancer}. Consider {first}." if len(alts) == 1 else
                      f"Off pathway for {cancer}. {len(alts)} on-pathway regimens fit this patient.",
                      f"Off pathway. Consider {_short_regimen(alts[0].regimen_name)}." if len(alts) == 1 else
                      f"Off pathway: {len(alts)} on-pathway regimens fit this patient.")
    else:
        summary = fit(f"Off pathway for {cancer}: no pathway regimen fits these findings.",
                      "Off pathway: no pathway regimen fits these findings.")
    suggestions = [alternative_suggestion(a, decision, ctx, i == 0) for i, a in enumerate(alts)]
    return card(ctx, topic="off-guideline", indicator="warning", summary=summary, detail=detail, orders=orders,
                suggestions=suggestions, override_reasons=bool(suggestions))


def alternative_suggestion(alt: Alternative, decision: Decision, ctx: RenderContext, recommended: bool) -> dict:
    """Delete the drafts of the ordered regimen, create the pathway regimen's drugs (RxNorm from the KB)."""
    kb = ctx.knowledge
    drafts = [o for o in regimen_orders(decision, ctx) if is_medication_request(o)]
    supportive = set()
    for d in decision.drugs:
        drug = kb.drugs.get(d.drug_key) if (kb is not None and d.drug_key) else None
        if drug is not None and drug.category.value == "supportive":
            supportive.add(d.ref)
    to_delete = [o for o in drafts if ref_of(o) not in supportive]
    template = (to_delete or drafts or ctx.targets or [{}])[0]
    regimen = _find_regimen(ctx, alt.pathway_id, alt.regimen_id)
    doses = {rd.drug_key: rd for rd in (regimen.drugs if regimen else ())}

    actions: list[dict] = [{"type": "delete", "description": f"Remove {words_of(o)}", "resourceId": ref_of(o)}
                           for o in to_delete]
    for key in alt.drug_keys:
        drug = kb.drugs.get(key) if kb is not None else None
        name = drug.name if drug is not None else key
        concept: dict = {"text": name}
        if drug is not None and drug.rxnorm:
            concept["coding"] = [{"system": RXNORM, "code": drug.rxnorm[0], "display": name}]
        resource: dict = {"resourceType": "MedicationRequest", "id": f"oncopath-{alt.regimen_id}-{key}",
                          "status": "draft", "intent": template.get("intent", "order"),
                          "medicationCodeableConcept": concept}
        for fld in ("subject", "encounter", "requester", "authoredOn"):
            if fld in template:
                resource[fld] = template[fld]
        if key in doses and dosage_text(doses[key]):
            resource["dosageInstruction"] = [{"text": dosage_text(doses[key])}]
        actions.append({"type": "create", "description": f"Add {drug_words(key, kb)} ({alt.regimen_name})",
                        "resource": resource})
    return {"label": f"Switch to {_short_regimen(alt.regimen_name)}", "uuid": str(uuid.uuid4()),
            "isRecommended": recommended and alt.criteria_met, "actions": actions}


def fn_risk_cards(decision: Decision, ctx: RenderContext, stated: set[str]) -> list[dict]:
    """Growth-factor appropriateness (R6), unless the pended card already says it."""
    out = []
    if not decision.in_program:
        return out
    for dev in decision.deviations:
        if dev.kind is not DeviationKind.FN_RISK:
            continue
        orders = _orders_for_drug(decision, ctx, dev.drug_key) if dev.drug_key else regimen_orders(decision, ctx)
        f = deviation_findings(dev, ctx.knowledge, cancer_name(decision, ctx))[0]
        if not orders or f.text in stated:
            continue
        detail = [f.text]
        if dev.severity is Severity.PEND:
            detail.append(f"**What to send:** {f.send}, or remove the growth factor if it is not needed.")
        out.append(card(ctx, topic="appropriate-use", indicator="warning",
                        summary=fit(f.text, "Growth factor: not indicated for this regimen's "
                                    "febrile-neutropenia risk."), detail=detail, orders=orders))
    return out


def dose_cards(decision: Decision, ctx: RenderContext) -> list[dict]:
    """R5: a dose outside the regimen's or the drug's set parameters is a warning only (it never
    pends): one card per drug, so the prescriber checks the dose entered before signing."""
    out = []
    if not decision.in_program:
        return out
    by_drug: dict[str | None, list[str]] = {}
    for dev in decision.deviations:
        if dev.kind is DeviationKind.DOSE:
            by_drug.setdefault(dev.drug_key, []).append(dev.text)
    for key, texts in by_drug.items():
        orders = _orders_for_drug(decision, ctx, key) if key else regimen_orders(decision, ctx)
        if not orders:
            continue
        name = drug_words(key, ctx.knowledge) if key else "A drug"
        what = [t.split(": ", 1)[1] if t.lower().startswith(f"{key}: ") else t for t in texts]
        detail = [f"- {sentence(clean(t, ctx.knowledge))}" for t in dict.fromkeys(what)]
        detail.append("A dose outside the set parameters does not change the decision; the plan's staff "
                      "verify the dose entered. Correct the order if it is a typing error.")
        out.append(card(ctx, topic="appropriate-use", indicator="warning",
                        summary=fit(f"Check the {name} dose: {re.split(r' [(]|; ', clean(what[0], ctx.knowledge))[0]}.",
                                    f"Check the {name} dose: it is outside the set parameters."),
                        detail=detail, orders=orders))
    return out


def duplicate_card(decision: Decision, ctx: RenderContext) -> dict | None:
    notices = [n for n in decision.notices if "duplicate" in n.code]
    if decision.duplicate_of is None and not notices:
        return None
    orders = regimen_orders(decision, ctx)
    if not orders:
        return None
    # Another provider's order is named only as such (R8, issue 15): its Order ID and drugs are that
    # provider's to see; the reviewer sees them. The engine's notice says whose order it is.
    others = any("another provider" in n.text for n in notices)
    on_file = f"Order ID {decision.duplicate_of}" if decision.duplicate_of and not others \
        else ("A similar request with another provider" if others else "A similar request")
    detail = [f"{on_file} is on file for this patient with the same drugs and overlapping dates."]
    detail.append("**What to do:** if it is the same treatment, cancel this order; if not, say how it differs "
                  "(new line of therapy, changed regimen) so the reviewer can release it.")
    return card(ctx, topic="duplicate-therapy", indicator="warning",
                summary=fit(f"Possible duplicate: {on_file} is on file for the same drugs and dates.",
                            "Possible duplicate: a similar request is on file."),
                detail=detail, orders=orders)


def network_card(decision: Decision, ctx: RenderContext) -> dict | None:
    notices = [n for n in decision.notices if "network" in n.code]
    orders = regimen_orders(decision, ctx)
    if not notices or not orders:
        return None
    if any(n.code == "out-of-network" for n in notices):
        return card(ctx, topic="network", indicator="info",
                    summary="The ordering provider is out of network: benefits may be lower and S-codes do not apply.",
                    detail=["Out-of-network benefits may not apply or may be paid at a lower rate, and the "
                            "pathway S-codes (S0353/S0354) cannot be billed.",
                            "**What to do:** check the patient's out-of-network benefits before treatment, or "
                            "refer to an in-network oncologist."], orders=orders)
    texts = list(dict.fromkeys(words(n.text, ctx.knowledge) for n in notices))
    return card(ctx, topic="network", indicator="info",
                summary=fit(texts[0], "The ordering provider is out of network."),
                detail=texts, orders=orders)


def notice_lines(decision: Decision, ctx: RenderContext) -> list[str]:
    """Notices no other card states (retrospective request, eligibility not confirmed...)."""
    out = []
    for n in decision.notices:
        if "duplicate" in n.code or "network" in n.code or n.code == "off-pathway":
            continue
        if n.code == "eligibility-not-confirmed":
            out.append("The plan could not tell the member's line of business from the coverage; the request "
                       "was reviewed as a program member.")
        else:
            out.append(words(n.text, ctx.knowledge))
    return out
