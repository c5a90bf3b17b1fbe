"""CaseService: the one place a case's life is assembled, whichever door it came through.

A use case takes a request already mapped by `mappings/` (an `Order`, or a `PasSubmission`),
loads what it needs (the member's history, the earlier case for an update), calls the engine
(`decide`, or a transition of `server.engine.transitions`) and stores the result with its
events in one unit of work. The doors differ only in how they read and render: each passes a
`render(decision, order_id, revision)` that turns the Decision into its own answer (cards, or a
ClaimResponse Bundle), called inside the store's transaction so the answer stored is the one
returned.

Use cases: `advise` (order-select: nothing stored), `sign` (order-sign), `submit` (PAS
`$submit`: new case, update, partial or whole cancellation), `act` (a reviewer's action).
No Flask here.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from mappings.pas_request import CLAIM_PATH, PasSubmission, request_fingerprint
from server import engine, metrics
from server.domain.decision import CaseStatus, Decision
from server.domain.order import History, Order
from server.cases import idempotency
from server.cases.idempotency import fingerprint
from server.engine import transitions
from server.errors import Conflict, Issue, NotFound, ServiceError, Unprocessable
from server.store import CaseRecord, CaseStore

log = logging.getLogger(__name__)
Render = Callable[[Decision, str, int], Any]   # (decision, order_id, revision) -> the door's answer


class KnowledgeUnavailable(ServiceError):
    status = 503


_CLOSED = {CaseStatus.NON_AUTHORIZED.value: "a denied (Non-Authorized) case cannot be updated; "
                                            "ask for a reconsideration or appeal instead",
           CaseStatus.REVIEW_CANCELLED.value: "a cancelled case cannot be updated; submit a new request"}


class CaseService:
    def __init__(self, store: CaseStore | None, knowledge):
        self.store = store
        self.kb = knowledge

    # -- reading what a decision needs ------------------------------------------------------

    def knowledge(self):
        if self.kb is None:
            raise KnowledgeUnavailable(Issue("transient", "the pathway knowledge base is not loaded"))
        return self.kb

    def _history_and_key(self, member_id: str | None, key: str) -> tuple[History | None, bool | None]:
        """A new request's member history and whether its key is on file, in one round trip
        when the store offers it; (None, None): ask for each separately."""
        both = getattr(self.store, "history_and_key", None)
        if both is None or not member_id:
            return None, None
        return both(member_id, key)

    def history(self, member_id: str | None, *, exclude_order_id: str | None = None) -> History:
        if self.store is None or not member_id:
            return History.empty()
        return self.store.history_for_member(member_id, exclude_order_id=exclude_order_id)

    # -- CDS Hooks ------------------------------------------------------------------------

    def advise(self, order: Order) -> Decision:
        """order-select: what signing would give; nothing is stored."""
        return engine.decide(order, self.knowledge(), self.history(order.member.id))

    def sign(self, order: Order, *, request_key: str, raw_request: Any, raw_request_text: str | None,
             render: Render, fingerprint: Callable[[Any], str]) -> Any:
        """order-sign: decide and store the case; its Order ID is the satisfied-pa-id. The same
        call again (same hookInstance, same content by `fingerprint`) gets the answer already
        given; a different call reusing the hookInstance is a case of its own."""
        kb = self.knowledge()
        if self.store is None:
            return render(engine.decide(order, kb, self.history(order.member.id)), None, 1)
        mine = functools.cache(lambda: fingerprint(raw_request))   # only if the key is on file (rare)
        history, on_file = self._history_and_key(order.member.id, request_key)
        key = idempotency.resolve(self.store, request_key, fingerprint_now=mine, on_file_hint=on_file,
                                  same_request=lambda rec: fingerprint(rec.raw_request) == mine())
        if key.answered is not None:
            return key.answered.response
        decision = engine.decide(order, kb, history if history is not None else self.history(order.member.id))
        record = self.store.save_case(source="cds", request_key=key.request_key, order=order, decision=decision,
                                      raw_request=raw_request, raw_request_text=raw_request_text, key_checked=True,
                                      note=key.reuse_note, render_response=lambda order_id: render(decision, order_id, 1))
        if record.created:
            metrics.record_decision(decision, "cds")
        return record.response

    # -- the disease-site worksheet ---------------------------------------------------------

    def attach_worksheet(self, order_id: str, answers: dict[str, str], now: datetime, *,
                         base_url: str | None = None) -> Decision:
        """A clinician's worksheet answers attach to the case as a QuestionnaireResponse and the
        case is decided again at once (`decide` on the stored order with the answers merged in).
        Only a case in review takes a worksheet (a decided case changes by a reviewer or a new
        request). The case's answer on file becomes its current ClaimResponse."""
        from mappings.pas_reviewed import render_case_response
        from server.store.review_actions import latest_request_bundle
        from server.worksheets.service import merge_answers, questionnaire_response

        record = self.store.get_case(order_id)
        if record is None:
            raise NotFound(Issue("not-found", f"no case {order_id}"))
        if record.status != CaseStatus.IN_PROGRESS.value:
            raise Conflict(Issue("business-rule", f"case {order_id} is {record.status}: it no longer takes a worksheet"))
        answers = {k: str(v).strip() for k, v in answers.items() if v is not None and str(v).strip()}
        order = merge_answers(record.order_obj(), answers)
        decision = engine.decide(order, self.knowledge(), self.history(order.member.id, exclude_order_id=order_id))
        response = questionnaire_response(order_id, decision.cancer_type or record.decision.get("cancer_type"),
                                          answers, now)
        request_bundle = latest_request_bundle(self.store, order_id)
        fhir_base = f"{base_url.rstrip('/')}/fhir" if base_url else None
        self.store.update_case(
            order_id, request_key=f"worksheet:{order_id}:{fingerprint(answers)[:16]}", order=order, decision=decision,
            raw_request=response, kind="worksheet", actor="provider", note="worksheet submitted",
            render_response=lambda oid: render_case_response(order=order, decision=decision, order_id=oid,
                                                             request_bundle=request_bundle, created=now,
                                                             revision=record.revision + 1, base_url=fhir_base))
        metrics.record_decision(decision, "worksheet")
        return decision

    # -- clinical review --------------------------------------------------------------------

    def act(self, order_id: str, action, actor, params: dict, now: datetime, *, review) -> CaseRecord:
        """A reviewer's action (approve, deny, request information, peer-to-peer, cancel
        duplicate, reconsideration); `review` is the ReviewService (state and rendering)."""
        from server.cases.review_actions import act

        return act(self, review, order_id, action, actor, params, now)

    # -- PAS --------------------------------------------------------------------------------

    def submit(self, req: PasSubmission, *, render: Render) -> Any:
        """`$submit`: the same Claim again gets its original answer; a Claim whose related claim
        is on file updates (or cancels) that case; anything else is a new case."""
        kb = self.knowledge()
        key = idempotency.resolve(
            self.store, req.request_key, fingerprint_now=lambda: req.fingerprint,
            same_request=lambda rec: (rec.source == "pas" and (not rec.provider_npi or rec.provider_npi in req.submitter_npis)
                                      and request_fingerprint(rec.raw_request, req.submitter_npis) == req.fingerprint))
        if key.answered is not None:
            return key.answered.response
        prior = self._prior(req) if req.related_key else None
        if prior is not None:
            return self._update(req, prior, key.request_key, render)
        order = req.order
        decision = engine.decide(order, kb, self.history(order.member.id))
        record = self.store.save_case(source="pas", request_key=key.request_key, order=order, decision=decision,
                                      raw_request=req.bundle, provider_npi=req.submitter_npi, note=key.reuse_note,
                                      key_checked=True, render_response=lambda order_id: render(decision, order_id, 1))
        if record.created:
            metrics.record_decision(decision, "pas")
        # Order ID and status only: never member or clinical detail at info level.
        log.info("PAS case %s %s: %s", record.order_id, "created" if record.created else "already on file",
                 record.status)
        return record.response

    def _prior(self, req: PasSubmission) -> CaseRecord | None:
        """The case the related Claim names: the newest one with that identifier (identifiers
        may be reused), or the case an earlier update with that identifier changed."""
        found = self.store.cases_with_identifier(req.related_key)
        prior = found[-1] if found else self.store.find_case_by_request_key(req.related_key)
        if prior is not None:
            _same_submitter(prior, req, "related", Unprocessable,
                            "the Claim this one updates was submitted by another provider")
        return prior

    def _update(self, req: PasSubmission, prior: CaseRecord, request_key: str, render: Render) -> Any:
        """PAS "Updates" and "Cancel": every item cancelled ⇒ the whole request withdrawn; some
        cancelled ⇒ those drugs Voluntarily Cancelled and the rest decided again as a whole
        (R1, R7); otherwise a new decision for the whole case, same Order ID. History leaves
        the case itself out (it is not its own duplicate, R8)."""
        if prior.status in _CLOSED:
            raise Unprocessable(Issue("business-rule", f"case {prior.order_id}: {_CLOSED[prior.status]}",
                                      expression=[f"{CLAIM_PATH}.related"]))
        prior_decision = prior.decision_obj()
        refs = set(req.cancelled_refs)
        if req.cancels_everything:
            order = prior.order_obj()
            decision = transitions.cancel_request(prior_decision, refs)
            kind, note = "cancelled", "all items cancelled by the provider"
        else:
            order = req.order
            if prior.member_id and order.member.id != prior.member_id:
                raise Unprocessable(Issue("business-rule", f"case {prior.order_id} is for another member",
                                          expression=[f"{CLAIM_PATH}.patient"]))
            if refs:
                order = replace(order, drugs=tuple(d for d in order.drugs if d.ref not in refs))
            history = self.history(order.member.id, exclude_order_id=prior.order_id)
            decision = transitions.with_cancelled_items(engine.decide(order, self.knowledge(), history),
                                                        prior_decision, refs)
            kind = "updated"
            note = f"update; cancelled {', '.join(sorted(refs))}" if refs else "update"
        revision = prior.revision + 1
        record = self.store.update_case(prior.order_id, request_key=request_key, order=order,
                                        decision=decision, raw_request=req.bundle, kind=kind, note=note,
                                        render_response=lambda order_id: render(decision, order_id, revision))
        metrics.record_decision(decision, "pas")
        return record.response


def _same_submitter(record: CaseRecord, req: PasSubmission, field: str, error: type[ServiceError],
                    text: str) -> None:
    """A provider only ever sees or changes its own cases (the NPI of Claim.provider)."""
    if record.provider_npi and record.provider_npi not in req.submitter_npis:
        raise error(Issue("business-rule" if error is Unprocessable else "conflict", text,
                          expression=[f"{CLAIM_PATH}.{field}"]),
                    audit=f"PAS {field}: a case of another submitter")
