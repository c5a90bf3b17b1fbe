"""The CRD `ext-coverage-information` assertion for one draft order (CRD 2.2, invariants q1–q9).

One Assertion per order, built from its DrugDecision; `extension()` turns it into the FHIR
extension. The systemAction carries the whole draft resource with the extension added.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from cards.codes import (COVERAGE_INFORMATION_URL, CRD_REASON_CODES, CRD_TEMP_SYSTEM, HCPCS,
                         ONCOPATH_DETAIL_SYSTEM, ONCOPATH_REASON_SYSTEM)
from cards.context import RenderContext, display_of, ref_of
from server.domain.decision import Decision, DrugDecision, DrugStatus


@dataclass
class Detail:
    code: str
    text: str
    value: object                      # str | bool | dict(Period)
    category: str = "cat-other"        # cat-limitation | cat-decisional | cat-other

    def as_extension(self) -> dict:
        if isinstance(self.value, bool):
            value = {"valueBoolean": self.value}
        elif isinstance(self.value, dict):
            value = {"valuePeriod": self.value}
        elif isinstance(self.value, str) and self.value.startswith(("http://", "https://")):
            value = {"valueUrl": self.value}
        else:
            value = {"valueString": str(self.value)}
        return {"url": "detail", "extension": [
            {"url": "category", "valueCode": self.category},
            {"url": "code", "valueCodeableConcept": {
                "coding": [{"system": ONCOPATH_DETAIL_SYSTEM, "code": self.code}], "text": self.text}},
            {"url": "value", **value},
        ]}


@dataclass
class Assertion:
    covered: str                                   # covered | not-covered | conditional | indeterminate
    pa_needed: str | None = None                   # no-auth | auth-needed | satisfied | conditional | ...
    doc_needed: list[str] = field(default_factory=list)
    doc_purpose: list[str] = field(default_factory=list)
    info_needed: list[str] = field(default_factory=list)
    reasons: list[tuple[str | None, str | None, str | None]] = field(default_factory=list)  # system, code, text
    billing_codes: list[str] = field(default_factory=list)   # HCPCS
    details: list[Detail] = field(default_factory=list)
    questionnaires: list[str] = field(default_factory=list)
    satisfied_pa_id: str | None = None
    expiry: date | None = None

    def summary(self) -> str:
        words = {"satisfied": "authorized", "auth-needed": "prior authorization needed",
                 "no-auth": "no prior authorization from this program", "conditional": "conditional",
                 "indeterminate": "could not be determined"}
        if self.covered == "not-covered":
            return "not covered"
        text = words.get(self.pa_needed or "", self.covered)
        if self.satisfied_pa_id:
            text += f" (Order {self.satisfied_pa_id})"
        if "OTH" in self.info_needed:
            text += "; pended for review, information needed"
        return text

    def extension(self, ctx: RenderContext, order: dict) -> dict:
        ext: list[dict] = [
            {"url": "coverage", "valueReference": ctx.coverage_ref or {"display": "no Coverage on file"}},
            {"url": "covered", "valueCode": self.covered},
        ]
        if self.pa_needed:
            ext.append({"url": "pa-needed", "valueCode": self.pa_needed})
        ext += [{"url": "doc-needed", "valueCode": c} for c in self.doc_needed]
        ext += [{"url": "doc-purpose", "valueCode": c} for c in self.doc_purpose]
        ext += [{"url": "info-needed", "valueCode": c} for c in self.info_needed]
        ext += [{"url": "billingCode", "valueCoding": {"system": HCPCS, "code": c}} for c in self.billing_codes]
        for system, code, text in self.reasons:
            cc: dict = {}
            if code:
                cc["coding"] = [{"system": system, "code": code}]
            if text:
                cc["text"] = text
            ext.append({"url": "reason", "valueCodeableConcept": cc})
        ext += [d.as_extension() for d in self.details]
        ext += [{"url": "questionnaire", "valueCanonical": q} for q in self.questionnaires]
        ext.append({"url": "date", "valueDate": ctx.today.isoformat()})
        ext.append({"url": "coverage-assertion-id", "valueString": f"{ctx.hook_instance}:{ref_of(order)}"})
        if self.satisfied_pa_id:
            ext.append({"url": "satisfied-pa-id", "valueString": self.satisfied_pa_id})
        if self.expiry:
            ext.append({"url": "expiry-date", "valueDate": self.expiry.isoformat()})
        return {"url": COVERAGE_INFORMATION_URL, "extension": ext}


def _reason(code: str, text: str) -> tuple[str, str, str]:
    system = CRD_TEMP_SYSTEM if code in CRD_REASON_CODES else ONCOPATH_REASON_SYSTEM
    return system, code, text


def _reason_text(dd: DrugDecision | None, fallback: str) -> str:
    if dd and dd.reasons:
        return "; ".join(r.text for r in dd.reasons)[:500]
    return fallback


def _pend_text(dd: DrugDecision, decision: Decision, ctx: RenderContext) -> str:
    """What this drug's review is waiting for, in the cards' clinical words: its own reasons,
    the deviations that concern it, else the case's pend reasons."""
    from cards.wording import pend_findings

    kb = ctx.knowledge
    cancer = kb.cancer_types[decision.cancer_type].name if (
        kb is not None and decision.cancer_type in getattr(kb, "cancer_types", {})) else "this cancer"
    own = Decision(case_status=decision.case_status, drugs=(dd,), kb_version=decision.kb_version,
                   in_program=True, trace=(), deviations=tuple(
                       d for d in decision.deviations if d.drug_key in (None, dd.drug_key)))
    texts = [f.text for f in pend_findings(own, kb, cancer)]
    if not texts:
        texts = [f.text for f in pend_findings(decision, kb, cancer)]
    texts = list(dict.fromkeys(t for t in texts if t))
    return ("Pended for clinical review: " + " ".join(texts))[:500] if texts else "Pended for clinical review"


def for_coverage_problem(ctx: RenderContext) -> Assertion | None:
    """CRD resp-43/44/45: no usable coverage overrides whatever the drug review said."""
    if ctx.coverage_state == "none":
        return Assertion("not-covered", reasons=[_reason(
            "no-active-coverage", "The EHR has no active Coverage for this patient")])
    if ctx.coverage_state == "unavailable":
        return Assertion("indeterminate", "indeterminate", reasons=[_reason(
            "technical", f"Coverage could not be read from the EHR ({ctx.coverage_problem or 'error'})")])
    return None


def unmanaged(_order: dict) -> Assertion:
    """A draft order the oncology program does not manage (not an oncology drug, or not a drug)."""
    return Assertion("covered", "no-auth", details=[Detail(
        "program-scope", "Oncology program scope",
        "Not an oncology drug managed by this program: no prior authorization from it")])


def for_drug(dd: DrugDecision, decision: Decision, ctx: RenderContext, cancer_type: str | None) -> Assertion:
    """The assertion for one drug of the regimen."""
    if not decision.in_program:
        reason = decision.program_reason
        if reason is not None and reason.code == "no-member-found":
            return Assertion("not-covered", reasons=[_reason("no-member-found", reason.text)])
        text = reason.text if reason else "Outside the oncology program: refer to the health plan"
        return Assertion("indeterminate", "no-auth", reasons=[_reason("not-in-program", text)])

    status = dd.status
    billing = [dd.hcpcs] if dd.hcpcs else []
    if status is DrugStatus.AUTHORIZED:
        details = []
        if dd.authorized_from and dd.authorized_to:
            details.append(Detail("authorized-period", "Authorized dates of service",
                                  {"start": dd.authorized_from.isoformat(), "end": dd.authorized_to.isoformat()},
                                  "cat-limitation"))
        if dd.billing_units is not None:
            details.append(Detail("billing-units", "Authorized billing units", f"{dd.billing_units:g}",
                                  "cat-limitation"))
        if decision.on_pathway:
            details.append(Detail("pathway-eligible-id", "Pathway Eligible ID",
                                  decision.pathway.pathway_eligible_id, "cat-decisional"))
        if ctx.order_id:
            return Assertion("covered", "satisfied", billing_codes=billing, details=details,
                             satisfied_pa_id=ctx.order_id, expiry=dd.authorized_to)
        details.append(Detail("authorization-at-signing", "When authorization is issued",
                              "Medical policy is met: authorized automatically when the order is signed",
                              "cat-decisional"))
        return Assertion("covered", "auth-needed", billing_codes=billing, details=details)

    if status is DrugStatus.IN_PROGRESS:
        text = _pend_text(dd, decision, ctx)
        a = Assertion("conditional", "auth-needed", info_needed=["OTH"], billing_codes=billing,
                      reasons=[_reason("pended-for-review", text)])
        if ctx.worksheet_url is not None:
            url = ctx.worksheet_url(cancer_type)
            a.details.append(Detail("worksheet", "Oncology worksheet to complete", url, "cat-decisional"))
            if ctx.primary:
                # order-select is a secondary hook: no clinical/admin doc-needed there (CRD hook-19).
                a.doc_needed = ["clinical"]
                a.doc_purpose = ["withpa"]
                a.questionnaires = [url]
        if decision.due_by is not None:
            a.details.append(Detail("review-due", "Review due by",
                                    decision.due_by.strftime("%Y-%m-%d %H:%M UTC"), "cat-other"))
        if ctx.order_id:
            a.details.append(Detail("order-id", "Order ID of the pended request", ctx.order_id, "cat-other"))
        return a

    if status is DrugStatus.NON_AUTHORIZED:   # a reviewer's decision, never the engine's
        return Assertion("not-covered", reasons=[_reason("non-authorized", _reason_text(dd, "Not authorized"))])
    if status is DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED:
        return Assertion("covered", "no-auth", billing_codes=billing)
    if status is DrugStatus.OTHER_IMPACT:
        name = dd.display if not dd.drug_key or ctx.knowledge is None else \
            getattr(ctx.knowledge.drugs.get(dd.drug_key), "name", dd.display)
        text = f"{name} is covered under the pharmacy benefit, not reviewed by this program; contact " \
               f"{ctx.service.pharmacy_contact}"
        return Assertion("indeterminate", "no-auth", reasons=[_reason("other-benefit", text)])
    if status is DrugStatus.REFER_TO_HEALTH_PLAN:
        return Assertion("indeterminate", "no-auth", reasons=[_reason(
            "not-in-program", _reason_text(dd, "Refer to the health plan"))])
    # NOT_REVIEWED (e.g. investigational, R14) and VOLUNTARILY_CANCELLED
    return Assertion("indeterminate", "no-auth", reasons=[_reason(
        "not-reviewed", _reason_text(dd, status.value))])


def system_action(order: dict, assertion: Assertion, ctx: RenderContext) -> dict:
    """An `update` carrying the whole draft order plus the extension; nothing else changes (resp-37)."""
    resource = dict(order)
    existing = order.get("extension")
    kept = [e for e in (existing if isinstance(existing, list) else [])
            if not (isinstance(e, dict) and e.get("url") == COVERAGE_INFORMATION_URL)]
    resource["extension"] = kept + [assertion.extension(ctx, order)]
    return {
        "type": "update",
        "description": f"Coverage information for {display_of(order)} ({ref_of(order)}): {assertion.summary()}",
        "resource": resource,
    }
