"""PAS R4 backport Subscriptions (rest-hook), with their event counter."""
from __future__ import annotations

from datetime import datetime

from server.store import outbox
from server.store.review_models import SubscriptionRow
from server.store.service import CaseStore


class Subscriptions:
    def __init__(self, cases: CaseStore):
        self._uow = cases.uow

    def add_subscription(self, sub_id: str, *, org_identifier: str, endpoint: str, resource: dict,
                         now: datetime, actor: str) -> dict:
        with self._uow() as uow:
            uow.session.add(SubscriptionRow(id=sub_id, org_identifier=org_identifier, endpoint=endpoint,
                                            status=resource.get("status", "active"), resource=resource,
                                            events_since_start=0, created_at=now))
            uow.audit.record(actor=actor, action="subscription.create", entity="subscription", entity_id=sub_id,
                             after={"orgIdentifier": org_identifier, "endpoint": endpoint})
            uow.commit()
            return resource

    def get_subscription(self, sub_id: str) -> tuple[dict, int] | None:
        with self._uow() as uow:
            row = uow.session.get(SubscriptionRow, sub_id)
            return (row.resource, row.events_since_start) if row else None

    def delete_subscription(self, sub_id: str, *, actor: str) -> bool:
        with self._uow() as uow:
            row = uow.session.get(SubscriptionRow, sub_id)
            if row is None:
                return False
            outbox.drop_pending(uow.session, sub_id)
            uow.session.delete(row)
            uow.audit.record(actor=actor, action="subscription.delete", entity="subscription", entity_id=sub_id)
            uow.commit()
            return True
