from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from omniretail.core.deps import DB
from omniretail.core.models import OutboxEvent
from omniretail.core.outbox import envelope
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES, RowId, problem
from omniretail.core.security import Actor, Role, require
from omniretail.integration import service
from omniretail.integration.models import DeliveryAttempt, EventDelivery
from omniretail.integration.rules import OPEN
from omniretail.integration.schemas import (
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    DeliveryStatus,
    WebhookIn,
    WebhookList,
    WebhookOut,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=PROBLEM_RESPONSES)
Admin = Annotated[Actor, Depends(require(Role.ADMIN))]
UNKNOWN_WEBHOOK = {404: problem("`unknown_webhook`")}
UNKNOWN_DELIVERY = {404: problem("`unknown_webhook`, `unknown_delivery`")}


def _delivery(row: EventDelivery, attempts: list[DeliveryAttempt], event: OutboxEvent | None = None) -> DeliveryOut:
    out = DeliveryOut.model_validate(row)
    out.attempt_log = [AttemptOut.model_validate(a) for a in attempts]
    if row.status not in OPEN:
        out.next_attempt_at = None
    if event is not None:
        out.event = envelope(event)
    return out


@router.post("", response_model=WebhookOut, status_code=201)
def create_webhook(body: WebhookIn, db: DB, actor: Admin) -> WebhookOut:
    """Subscribe a URL to events; each delivery is signed with the secret (`Omniretail-Signature`)."""
    with db.write() as s:
        return WebhookOut.model_validate(service.create_subscription(s, actor=actor, **body.model_dump()))


@router.get("", response_model=WebhookList)
def list_webhooks(db: DB, _: Admin, limit: Limit = 50, cursor: Cursor = None) -> WebhookList:
    """List the active webhook subscriptions (never their secrets)."""
    with db.read() as s:
        rows = service.list_subscriptions(s, limit=limit + 1, after_id=cursor_int(decode_cursor(cursor), "after"))
        more = len(rows) > limit
        return WebhookList(items=[WebhookOut.model_validate(r) for r in rows[:limit]],
                           next_cursor=encode_cursor({"after": rows[limit - 1].id}) if more else None)


@router.get("/{webhook_id}", response_model=WebhookOut, responses=UNKNOWN_WEBHOOK)
def get_webhook(webhook_id: RowId, db: DB, _: Admin) -> WebhookOut:
    """Show a subscription with the number of its deliveries in each state."""
    with db.read() as s:
        out = WebhookOut.model_validate(service.get_subscription(s, webhook_id))
        out.deliveries = service.delivery_counts(s, webhook_id)
        return out


@router.delete("/{webhook_id}", response_model=WebhookOut, responses=UNKNOWN_WEBHOOK)
def delete_webhook(webhook_id: RowId, db: DB, actor: Admin) -> WebhookOut:
    """Delete a subscription: nothing more is sent to it, its open deliveries are cancelled."""
    with db.write() as s:
        return WebhookOut.model_validate(service.delete_subscription(s, actor=actor, subscription_id=webhook_id))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses=UNKNOWN_WEBHOOK)
def list_deliveries(webhook_id: RowId, db: DB, _: Admin, limit: Limit = 50, cursor: Cursor = None,
                    status: DeliveryStatus | None = None) -> DeliveryList:
    """The subscription's delivery log, newest first, each delivery with its attempts."""
    with db.read() as s:
        position = decode_cursor(cursor)
        before = cursor_int(position, "before") if "before" in position else None
        rows = service.list_deliveries(s, subscription_id=webhook_id, limit=limit + 1, before_id=before,
                                       status=status)
        page = rows[:limit]
        attempts = service.attempts_of(s, [r.id for r in page])
        more = len(rows) > limit
        return DeliveryList(items=[_delivery(row, attempts[row.id]) for row in page],
                            next_cursor=encode_cursor({"before": page[-1].id}) if more else None)


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryOut, responses=UNKNOWN_DELIVERY)
def get_delivery(webhook_id: RowId, delivery_id: RowId, db: DB, _: Admin) -> DeliveryOut:
    """Show one delivery with its attempts and the event it carries."""
    with db.read() as s:
        row = service.get_delivery(s, subscription_id=webhook_id, delivery_id=delivery_id)
        return _delivery(row, service.attempts_of(s, [row.id])[row.id], s.get(OutboxEvent, row.event_seq))


@router.post("/{webhook_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut, status_code=202,
             responses={**UNKNOWN_DELIVERY, 409: problem("`delivery_in_progress`")})
def replay_delivery(webhook_id: RowId, delivery_id: RowId, db: DB, actor: Admin) -> DeliveryOut:
    """Send a delivered or dead-lettered event again, as a new delivery (in order with the object's others)."""
    with db.write() as s:
        return _delivery(service.replay_delivery(s, actor=actor, subscription_id=webhook_id,
                                                 delivery_id=delivery_id), [])
