"""Write domain events to the outbox in the caller's transaction.

Delivery (webhooks, NATS JetStream) reads the table after commit, so an event exists
exactly when the state change that caused it was committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uuid6
from sqlalchemy.orm import Session

from omniretail.core.clock import utcnow
from omniretail.core.models import OutboxEvent


@dataclass(frozen=True)
class Event:
    type: str
    object_type: str
    object_id: str
    data: dict[str, Any] = field(default_factory=dict)


def event_id() -> str:
    """A new event id: a UUID of version 7, whose leading bits are the time, so the outbox's id index grows at
    its end instead of at a random page per event."""
    return str(uuid6.uuid7())


def event_row(event: Event, *, occurred_at: datetime | None = None) -> dict[str, Any]:
    """The outbox row of an event, for bulk inserts."""
    return {"id": event_id(), "type": event.type, "object_type": event.object_type,
            "object_id": str(event.object_id), "occurred_at": occurred_at or utcnow(), "data": event.data}


def emit(session: Session, event: Event, *, occurred_at: datetime | None = None) -> OutboxEvent:
    """Add `event` to the outbox within the current transaction."""
    row = OutboxEvent(**event_row(event, occurred_at=occurred_at))
    session.add(row)
    return row


def envelope(row: OutboxEvent) -> dict[str, Any]:
    """The event as webhooks and the event stream carry it."""
    return {
        "id": row.id,
        "type": row.type,
        "occurred_at": row.occurred_at.isoformat(),
        "object_id": row.object_id,
        "data": row.data,
    }
