"""Old delivery records leave: deliveries that reached their destination (or were cancelled) more than
`OMNIRETAIL_DELIVERY_RETENTION_DAYS` ago are deleted with their attempts, a batch at a time, by the worker's
periodic job. Dead letters stay (they are what an operator acts on), and so does any delivery a replay
points to. The outbox's events themselves are kept: they
are the platform's history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import aliased

from omniretail.core.clock import utcnow
from omniretail.core.config import get_settings
from omniretail.core.db import Database
from omniretail.core.jobs import register_job
from omniretail.integration.models import DeliveryAttempt, EventDelivery

BATCH = 5_000
EVERY_SECONDS = 3_600.0


def prune_deliveries(db: Database, *, days: int | None = None, batch: int = BATCH) -> int:
    """Delete one batch of finished deliveries older than `days` (the setting) and their attempts; returns how
    many deliveries went."""
    cutoff = utcnow() - timedelta(days=days if days is not None else get_settings().delivery_retention_days)
    replay = aliased(EventDelivery)
    old = (select(EventDelivery.id)
           .where(EventDelivery.status.in_(("delivered", "cancelled")),
                  func.coalesce(EventDelivery.delivered_at, EventDelivery.created_at) < cutoff,
                  ~exists().where(replay.replay_of_id == EventDelivery.id))
           .order_by(EventDelivery.id).limit(batch))
    with db.write() as session:
        ids = list(session.scalars(old))
        if ids:
            session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
            session.execute(delete(EventDelivery).where(EventDelivery.id.in_(ids)))
    return len(ids)


register_job("integration.prune_deliveries", prune_deliveries, every_seconds=EVERY_SECONDS)
