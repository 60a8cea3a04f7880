"""Tables of event delivery: webhook subscriptions, one delivery per event and destination, and its attempts.

The relay fans each outbox event out into `event_deliveries`, one row per destination (`webhook:<id>` for a
subscription, `stream` for NATS JetStream). A delivery is open (`pending`, `retrying`) until it reached its
destination (`delivered`), was given up (`dead`) or its subscription was deleted (`cancelled`); an open delivery
holds back the later events of its object for the same destination, which is how order per object is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base

STREAM_TARGET = "stream"


def webhook_target(subscription_id: int) -> str:
    return f"webhook:{subscription_id}"


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(default=list, comment='event type patterns, or ["*"]')
    secret: Mapped[str] = mapped_column(String(200), comment="signs deliveries; never shown again")
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="active")
    after_seq: Mapped[int] = mapped_column(Integer, default=0,
                                           comment="the outbox position when it was made; only later events go to it")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (CheckConstraint("status IN ('active', 'deleted')", name="status_known"),)


class EventDelivery(Base):
    """One outbox event on its way to one destination."""

    __tablename__ = "event_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("outbox_events.seq"), comment="the event's outbox position")
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(100))
    object_key: Mapped[str] = mapped_column(String(160), comment="object_type:object_id; order is kept per key")
    target: Mapped[str] = mapped_column(String(40), comment="webhook:<subscription id> or stream")
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_subscriptions.id"), default=None)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None, comment="the worker sending it now")
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None, comment="the claim's lease")
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    replay_of_id: Mapped[int | None] = mapped_column(ForeignKey("event_deliveries.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'retrying', 'delivered', 'dead', 'cancelled')", name="status_known"),
        CheckConstraint("(subscription_id IS NULL) = (target = 'stream')", name="target_matches_subscription"),
        Index("ix_event_deliveries_due", "status", "next_attempt_at"),
        Index("ix_event_deliveries_object", "target", "object_key", "event_seq"),
        Index("ix_event_deliveries_subscription", "subscription_id", "id"),
    )


class DeliveryAttempt(Base):
    """One try of a delivery: what the destination answered, or why it could not be reached."""

    __tablename__ = "event_delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("event_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(12), comment="delivered, failed, or interrupted (the worker died)")
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)

    __table_args__ = (
        CheckConstraint("outcome IN ('delivered', 'failed', 'interrupted')", name="outcome_known"),
        Index("ix_event_delivery_attempts_delivery", "delivery_id", "number"),
    )
