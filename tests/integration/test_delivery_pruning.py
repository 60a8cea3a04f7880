"""Old delivery records leave (`integration.pruning`): finished deliveries past the retention go with their
attempts; recent ones, dead letters, unfinished ones and any a replay points to stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.jobs import JOBS
from omniretail.core.outbox import Event, emit
from omniretail.integration import pruning
from omniretail.integration.models import DeliveryAttempt, EventDelivery


def _deliveries(db: Database) -> dict[str, int]:
    """One stream delivery per case, each with one attempt; returns their ids by case."""
    now = utcnow()
    cases = {"old delivered": ("delivered", 40), "old cancelled": ("cancelled", 40),
             "recent delivered": ("delivered", 5), "old dead": ("dead", 40), "old pending": ("pending", 40),
             "replayed": ("delivered", 40)}
    made: dict[str, int] = {}
    with db.write() as s:
        event = emit(s, Event("order.created", "order", "1", {}))
        s.flush()
        for case, (status, days) in cases.items():
            at = now - timedelta(days=days)
            row = EventDelivery(event_seq=event.seq, event_id=event.id, event_type=event.type, object_key="order:1",
                                target="stream", status=status, attempts=1, next_attempt_at=at, created_at=at,
                                delivered_at=at if status == "delivered" else None)
            s.add(row)
            s.flush()
            s.add(DeliveryAttempt(delivery_id=row.id, number=1, worker="w", started_at=at, finished_at=at,
                                  outcome="delivered" if status == "delivered" else "failed"))
            made[case] = row.id
        s.add(EventDelivery(event_seq=event.seq, event_id=event.id, event_type=event.type, object_key="order:1",
                            target="stream", status="pending", replay_of_id=made["replayed"]))
    return made


def test_finished_deliveries_past_the_retention_go_with_their_attempts(db: Database) -> None:
    made = _deliveries(db)

    assert pruning.prune_deliveries(db, days=30) == 2

    with db.read() as s:
        left = set(s.scalars(select(EventDelivery.id)))
        attempts = set(s.scalars(select(DeliveryAttempt.delivery_id)))
    gone = {made["old delivered"], made["old cancelled"]}
    assert not gone & left and not gone & attempts
    for case in ("recent delivered", "old dead", "old pending", "replayed"):
        assert made[case] in left and made[case] in attempts, case
    assert pruning.prune_deliveries(db, days=30) == 0  # nothing more to do


def test_a_batch_at_a_time_and_the_worker_runs_it(db: Database) -> None:
    _deliveries(db)
    assert pruning.prune_deliveries(db, days=30, batch=1) == 1
    assert pruning.prune_deliveries(db, days=30, batch=1) == 1
    assert pruning.prune_deliveries(db, days=30, batch=1) == 0
    assert any(job.name == "integration.prune_deliveries" for job in JOBS)
