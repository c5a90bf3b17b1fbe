"""An in-memory case store with the CaseStore methods the case service calls, for service-layer
unit tests (Cosmic Python's fake repository): no database, same contract."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from itertools import count

from server.domain.history import history_facts
from server.domain.order import History, PriorCase, ehr_order_refs
from server.store import serialize
from server.store.service import CaseEvent, CaseRecord


class FakeCaseStore:
    def __init__(self):
        self.cases: dict[str, CaseRecord] = {}
        self.events: dict[str, list[CaseEvent]] = {}
        self.event_keys: dict[str, tuple[str, object, object]] = {}   # key -> (order_id, raw, response)
        self._ids = count(1)

    def find_case_by_request_key(self, key: str) -> CaseRecord | None:
        for rec in self.cases.values():
            if rec.request_key == key:
                return rec
        if key in self.event_keys:
            order_id, raw, response = self.event_keys[key]
            return replace(self.cases[order_id], raw_request=raw, response=response)
        return None

    def cases_with_identifier(self, key: str) -> list[CaseRecord]:
        return [r for r in self.cases.values() if r.request_key == key or r.request_key.startswith(key + "#")]

    def history_for_member(self, member_id, *, exclude_order_id=None) -> History:
        out = []
        for rec in self.cases.values():
            if rec.member_id != member_id or rec.order_id == exclude_order_id:
                continue
            facts = history_facts(rec.order_obj(), rec.decision_obj())
            out.append(PriorCase(order_id=rec.order_id, request_id=rec.order["request_id"], status=rec.status,
                                 drug_keys=frozenset(facts.drug_keys), start=facts.start_date, end=facts.end_date,
                                 regimen_id=facts.regimen_id, s0353_awarded_on=facts.s0353_awarded_on,
                                 order_refs=ehr_order_refs(d["ref"] for d in rec.order["drugs"])))
        return History(tuple(out))

    def save_case(self, *, source, request_key, order, decision, raw_request, render_response, actor="system",
                  provider_npi=None, raw_request_text=None, note=None, key_checked=False) -> CaseRecord:
        known = self.find_case_by_request_key(request_key)
        if known is not None:
            return known
        order_id = f"ONC-FAKE{next(self._ids):06d}"
        now = datetime.now(timezone.utc)
        rec = CaseRecord(order_id=order_id, source=source, request_key=request_key, member_id=order.member.id,
                         provider_npi=provider_npi or order.ordering_provider.npi, payer_id=order.payer_id,
                         status=decision.case_status.value, received_at=order.received_at, due_by=decision.due_by,
                         updated_at=now, raw_request=raw_request, order=serialize.order_to_dict(order),
                         decision=serialize.decision_to_dict(decision), response=render_response(order_id),
                         kb_version=decision.kb_version, revision=1, created=True)
        self.cases[order_id] = rec
        self.events[order_id] = [CaseEvent(now, "created", rec.status, actor, note or source, None)]
        return rec

    def update_case(self, order_id, *, request_key, order, decision, raw_request, render_response,
                    kind="updated", actor="system", note=None) -> CaseRecord:
        if request_key in self.event_keys:
            return self.find_case_by_request_key(request_key)
        prior = self.cases[order_id]
        response = render_response(order_id)
        rec = replace(prior, order=serialize.order_to_dict(order), decision=serialize.decision_to_dict(decision),
                      status=decision.case_status.value, response=response, revision=prior.revision + 1,
                      created=False)
        self.cases[order_id] = rec
        self.event_keys[request_key] = (order_id, raw_request, response)
        self.events[order_id].append(CaseEvent(datetime.now(timezone.utc), kind, rec.status, actor, note, request_key))
        return rec
