"""Use cases of webhooks: subscribe, list, show, delete, read the delivery log, replay a delivery."""

from __future__ import annotations

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Invalid, NotFound
from omniretail.core.models import OutboxEvent
from omniretail.core.security import Actor
from omniretail.integration.models import DeliveryAttempt, EventDelivery, WebhookSubscription, webhook_target
from omniretail.integration.relay import ROUTE_LOCK
from omniretail.integration.rules import OPEN, STATUSES, PatternProblem, normalise_patterns, secret_problem, url_problem


def create_subscription(session: Session, *, actor: Actor, url: str, events: list[str], secret: str,
                        description: str = "") -> WebhookSubscription:
    """Subscribe `url` to events of these types (or `["*"]`); deliveries are signed with `secret`."""
    problem = url_problem(url)
    if problem is not None:
        raise Invalid(problem, field="url", code="invalid_webhook_url")
    try:
        patterns = normalise_patterns(events)
    except PatternProblem as exc:
        raise Invalid(str(exc), field="events" if exc.index is None else f"events.{exc.index}",
                      code=exc.code) from None
    refused = secret_problem(secret)
    if refused is not None:
        raise Invalid(refused[1], field="secret", code=refused[0])
    if session.get_bind().dialect.name == "postgresql":
        # Wait for a routing round under way, so every event routed after this commits sees the subscription
        # and every event before `after_seq` was routed without it.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROUTE_LOCK})
    after_seq = session.scalar(select(func.coalesce(func.max(OutboxEvent.seq), 0)))
    row = WebhookSubscription(url=url, events=patterns, secret=secret, description=description, status="active",
                              after_seq=after_seq, created_at=utcnow(), created_by=actor.name)
    session.add(row)
    session.flush()
    audit.record(session, actor, "webhook.created", "webhook", str(row.id),
                 {"url": url, "events": patterns, "description": description})
    return row


def list_subscriptions(session: Session, *, limit: int, after_id: int = 0) -> list[WebhookSubscription]:
    """List the active subscriptions, oldest first (never their secrets)."""
    return list(session.scalars(select(WebhookSubscription)
                                .where(WebhookSubscription.status == "active", WebhookSubscription.id > after_id)
                                .order_by(WebhookSubscription.id).limit(limit)))


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    """Show one active subscription."""
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or row.status != "active":
        raise NotFound(f"No webhook subscription {subscription_id}", code="unknown_webhook")
    return row


def delete_subscription(session: Session, *, actor: Actor, subscription_id: int) -> WebhookSubscription:
    """Stop delivering to a subscription; its open deliveries are cancelled, its log stays."""
    row = get_subscription(session, subscription_id)
    now = utcnow()
    row.status, row.deleted_at = "deleted", now
    cancelled = session.execute(update(EventDelivery)
                                .where(EventDelivery.subscription_id == row.id, EventDelivery.status.in_(OPEN))
                                .values(status="cancelled", claimed_by=None, claimed_at=None, claimed_until=None)
                                ).rowcount
    audit.record(session, actor, "webhook.deleted", "webhook", str(row.id), {"cancelled_deliveries": cancelled})
    return row


def delivery_counts(session: Session, subscription_id: int) -> dict[str, int]:
    """How many of the subscription's deliveries are in each state."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in session.execute(select(EventDelivery.status, func.count())
                                         .where(EventDelivery.subscription_id == subscription_id)
                                         .group_by(EventDelivery.status)):
        counts[status] = count
    return counts


def list_deliveries(session: Session, *, subscription_id: int, limit: int, before_id: int | None = None,
                    status: str | None = None) -> list[EventDelivery]:
    """List a subscription's deliveries, newest first, optionally of one status."""
    get_subscription(session, subscription_id)
    query = select(EventDelivery).where(EventDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(EventDelivery.status == status)
    if before_id is not None:
        query = query.where(EventDelivery.id < before_id)
    return list(session.scalars(query.order_by(EventDelivery.id.desc()).limit(limit)))


def get_delivery(session: Session, *, subscription_id: int, delivery_id: int) -> EventDelivery:
    """Show one delivery of a subscription."""
    get_subscription(session, subscription_id)
    row = session.get(EventDelivery, delivery_id)
    if row is None or row.subscription_id != subscription_id:
        raise NotFound(f"No delivery {delivery_id} of webhook subscription {subscription_id}", code="unknown_delivery")
    return row


def attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[DeliveryAttempt]]:
    """The attempts of these deliveries, in the order they were made."""
    found: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        for attempt in session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(delivery_ids))
                                       .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number)):
            found[attempt.delivery_id].append(attempt)
    return found


def replay_delivery(session: Session, *, actor: Actor, subscription_id: int, delivery_id: int) -> EventDelivery:
    """Send a delivery's event to the subscription again, as a new delivery (in order with the object's other
    open deliveries); refused while the event is still on its way."""
    original = get_delivery(session, subscription_id=subscription_id, delivery_id=delivery_id)
    open_one = session.scalar(select(EventDelivery.id).where(EventDelivery.target == original.target,
                                                             EventDelivery.event_seq == original.event_seq,
                                                             EventDelivery.status.in_(OPEN)).limit(1))
    if open_one is not None:
        raise Conflict(f"Event {original.event_id} is still being delivered (delivery {open_one}); replay it once "
                       "it is delivered or dead", code="delivery_in_progress", delivery_id=open_one)
    now = utcnow()
    replay = EventDelivery(event_seq=original.event_seq, event_id=original.event_id, event_type=original.event_type,
                           object_key=original.object_key, target=webhook_target(subscription_id),
                           subscription_id=subscription_id, status="pending", attempts=0, next_attempt_at=now,
                           replay_of_id=original.id, created_at=now)
    session.add(replay)
    session.flush()
    audit.record(session, actor, "webhook.delivery_replayed", "webhook", str(subscription_id),
                 {"delivery_id": original.id, "replay_id": replay.id, "event_id": original.event_id})
    return replay
