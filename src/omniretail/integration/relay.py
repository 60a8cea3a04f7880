"""The relay's database steps: route outbox events to deliveries, claim deliveries, record what happened.

Each step is one short transaction and none spans a network call: a worker claims deliveries with a lease
(`claimed_until`) and commits, sends them, then records the results in a new transaction. A worker that dies
leaves its claims to expire; the next worker to claim them logs the lost try as `interrupted` and sends again
(at least once). Order per object and destination: a delivery is claimed only when no earlier delivery of the
same object for the same destination is still open, and the deliveries of one object that a worker claims
together are sent one after the other, in event order.

On PostgreSQL the claim locks its rows `FOR UPDATE SKIP LOCKED`, so workers claiming at once take different
deliveries, and routing takes a transaction-scoped advisory lock, so events are routed in outbox order by one
worker at a time. On SQLite every write transaction begins with `BEGIN IMMEDIATE`, which serialises them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.models import OutboxEvent
from omniretail.core.outbox import envelope
from omniretail.core.security import Actor, Role
from omniretail.integration.models import STREAM_TARGET, DeliveryAttempt, EventDelivery, WebhookSubscription
from omniretail.integration.rules import OPEN, Follower, after_failure, matches, retry_delay, take_chain

#: Key of the advisory lock that makes routing one worker at a time on PostgreSQL ("omnr").
ROUTE_LOCK = 0x6F6D6E72
RELAY_ACTOR = Actor(name="system:relay", role=Role.ADMIN)
INTERRUPTED = "the worker stopped before it recorded a result; the receiver may have got it"
#: Events of a stream delivery are retried sooner than webhooks and never given up: NATS being away is an
#: outage to wait out, not a receiver refusing the event.
STREAM_RETRY_BASE_SECONDS = 1.0
STREAM_RETRY_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker owns until `claimed_until`, with what it needs to send it."""

    delivery_id: int
    target: str
    object_key: str
    event_seq: int
    envelope: dict[str, Any]
    claimed_until: datetime
    url: str | None = None
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Outcome:
    """What became of a claimed delivery: sent (`delivered` true or false) or handed back unsent."""

    delivery_id: int
    attempted: bool
    delivered: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float


def lock_routing(session: Session) -> bool:
    """Whether this transaction may route (always on SQLite, whose write transactions are serialised)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ROUTE_LOCK}))


def route(db: Database, *, stream: bool, batch: int = 500) -> int:
    """Fan the oldest unrouted outbox events out into one delivery per matching subscription (and one for the
    stream when `stream`); returns the number of events routed."""
    with db.read() as s:
        if s.scalar(select(OutboxEvent.seq).where(OutboxEvent.published_at.is_(None)).limit(1)) is None:
            return 0
    with db.write() as s:
        if not lock_routing(s):
            return 0
        events = s.execute(select(OutboxEvent.seq, OutboxEvent.id, OutboxEvent.type, OutboxEvent.object_type,
                                  OutboxEvent.object_id)
                           .where(OutboxEvent.published_at.is_(None)).order_by(OutboxEvent.seq).limit(batch)).all()
        if not events:
            return 0
        subscriptions = s.execute(select(WebhookSubscription.id, WebhookSubscription.events,
                                         WebhookSubscription.after_seq)
                                  .where(WebhookSubscription.status == "active")).all()
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for event in events:
            common = {"event_seq": event.seq, "event_id": event.id, "event_type": event.type,
                      "object_key": f"{event.object_type}:{event.object_id}", "status": "pending", "attempts": 0,
                      "next_attempt_at": now, "created_at": now}
            rows.extend({**common, "target": f"webhook:{sub.id}", "subscription_id": sub.id}
                        for sub in subscriptions if event.seq > sub.after_seq and matches(sub.events, event.type))
            if stream:
                rows.append({**common, "target": STREAM_TARGET, "subscription_id": None})
        if rows:
            s.execute(insert(EventDelivery), rows)
        s.execute(update(OutboxEvent).where(OutboxEvent.seq.in_([e.seq for e in events])).values(published_at=now))
        return len(events)


def _claimable(now: datetime, stream: bool) -> list[Any]:
    d = EventDelivery
    conditions = [d.status.in_(OPEN), d.next_attempt_at <= now, or_(d.claimed_until.is_(None), d.claimed_until < now)]
    if not stream:
        conditions.append(d.subscription_id.is_not(None))
    return conditions


def claim(db: Database, *, worker: str, stream: bool, limit: int, chain: int, lease_seconds: float,
          policy: RetryPolicy) -> list[Claimed]:
    """Claim up to `limit` objects' next deliveries (and up to `chain` consecutive ones of each object) for
    `lease_seconds`, in event order; stream deliveries only when `stream`."""
    now = utcnow()
    with db.read() as s:
        if s.scalar(select(EventDelivery.id).where(*_claimable(now, stream)).limit(1)) is None:
            return []
    with db.write() as s:
        earlier = aliased(EventDelivery)
        blocked = (select(earlier.id)
                   .where(earlier.target == EventDelivery.target, earlier.object_key == EventDelivery.object_key,
                          earlier.event_seq < EventDelivery.event_seq, earlier.status.in_(OPEN))
                   .exists())
        heads = list(s.scalars(select(EventDelivery).where(*_claimable(now, stream), ~blocked)
                               .order_by(EventDelivery.event_seq).limit(limit)
                               .with_for_update(skip_locked=True, of=EventDelivery)))
        taken: list[EventDelivery] = []
        for head in heads:
            if _interrupted(s, head, now, policy):
                continue
            taken.append(head)
            if chain > 1:
                taken.extend(_followers(s, head, now, chain - 1, policy))
        if not taken:
            return []
        until = now + timedelta(seconds=lease_seconds)
        s.execute(update(EventDelivery).where(EventDelivery.id.in_([row.id for row in taken]))
                  .values(claimed_by=worker, claimed_at=now, claimed_until=until))
        return _with_payloads(s, taken, until)


def _followers(s: Session, head: EventDelivery, now: datetime, room: int, policy: RetryPolicy) -> list[EventDelivery]:
    rows = list(s.scalars(select(EventDelivery)
                          .where(EventDelivery.target == head.target, EventDelivery.object_key == head.object_key,
                                 EventDelivery.event_seq > head.event_seq, EventDelivery.status.in_(OPEN))
                          .order_by(EventDelivery.event_seq).limit(room).with_for_update()))
    ids = take_chain([Follower(r.id, due=r.next_attempt_at <= now,
                               claimed=r.claimed_until is not None and r.claimed_until >= now) for r in rows], room)
    chosen = []
    for row in rows[:len(ids)]:
        if _interrupted(s, row, now, policy):
            break  # it was given up: what follows waits for the next round, in order
        chosen.append(row)
    return chosen


def _interrupted(s: Session, row: EventDelivery, now: datetime, policy: RetryPolicy) -> bool:
    """Log the try of a worker whose lease on `row` ran out; True when that used up the tries (now dead)."""
    if row.claimed_by is None:
        return False
    row.attempts += 1
    s.add(DeliveryAttempt(delivery_id=row.id, number=row.attempts, worker=row.claimed_by,
                          started_at=row.claimed_at or now, finished_at=now, outcome="interrupted", error=INTERRUPTED))
    row.last_status_code, row.last_error = None, INTERRUPTED
    row.claimed_by = row.claimed_at = row.claimed_until = None
    if row.target != STREAM_TARGET and after_failure(row.attempts, max_attempts=policy.max_attempts,
                                                     dead_letters=True) == "dead":
        _dead(s, row)
        s.flush()
        return True
    s.flush()
    return False


def _with_payloads(s: Session, rows: Sequence[EventDelivery], until: datetime) -> list[Claimed]:
    events = {e.seq: e for e in s.scalars(select(OutboxEvent).where(OutboxEvent.seq.in_({r.event_seq for r in rows})))}
    subscription_ids = {r.subscription_id for r in rows if r.subscription_id is not None}
    subscriptions = {sub.id: sub for sub in s.scalars(
        select(WebhookSubscription).where(WebhookSubscription.id.in_(subscription_ids)))} if subscription_ids else {}
    claimed = []
    for row in rows:
        sub = subscriptions.get(row.subscription_id) if row.subscription_id is not None else None
        claimed.append(Claimed(delivery_id=row.id, target=row.target, object_key=row.object_key,
                               event_seq=row.event_seq, envelope=envelope(events[row.event_seq]),
                               claimed_until=until, url=sub.url if sub else None, secret=sub.secret if sub else None))
    return claimed


def record(db: Database, *, worker: str, outcomes: Sequence[Outcome], policy: RetryPolicy,
           jitter: Callable[[], float]) -> None:
    """Write each outcome: an attempt in the log, the delivery delivered, retrying later, dead, or handed back."""
    if not outcomes:
        return
    with db.write() as s:
        rows = {r.id: r for r in s.scalars(select(EventDelivery).where(
            EventDelivery.id.in_([o.delivery_id for o in outcomes])).with_for_update())}
        now = utcnow()
        retrying: list[EventDelivery] = []
        for outcome in outcomes:
            row = rows.get(outcome.delivery_id)
            if row is None:
                continue
            mine = row.claimed_by == worker
            if not outcome.attempted:
                if mine:
                    row.claimed_by = row.claimed_at = row.claimed_until = None
                continue
            row.attempts += 1
            s.add(DeliveryAttempt(delivery_id=row.id, number=row.attempts, worker=worker,
                                  started_at=outcome.started_at or now, finished_at=outcome.finished_at or now,
                                  outcome="delivered" if outcome.delivered else "failed",
                                  status_code=outcome.status_code, error=outcome.error))
            row.last_status_code, row.last_error = outcome.status_code, outcome.error
            if outcome.delivered:
                if row.status in OPEN:
                    row.status, row.delivered_at = "delivered", outcome.finished_at or now
            elif mine and row.status in OPEN:
                _failed(s, row, now, policy, jitter())
                if row.status == "retrying":
                    retrying.append(row)
            if mine:
                row.claimed_by = row.claimed_at = row.claimed_until = None
        for row in retrying:
            _defer_followers(s, row)


def _defer_followers(s: Session, head: EventDelivery) -> None:
    """The object's later deliveries cannot go before `head` does: make them due no earlier, so that rounds
    until then do not look at them again (a receiver that is down may have a long queue behind it)."""
    s.execute(update(EventDelivery)
              .where(EventDelivery.target == head.target, EventDelivery.object_key == head.object_key,
                     EventDelivery.event_seq > head.event_seq, EventDelivery.status == "pending",
                     EventDelivery.claimed_by.is_(None), EventDelivery.next_attempt_at < head.next_attempt_at)
              .values(next_attempt_at=head.next_attempt_at))


def _failed(s: Session, row: EventDelivery, now: datetime, policy: RetryPolicy, jitter: float) -> None:
    stream = row.target == STREAM_TARGET
    if after_failure(row.attempts, max_attempts=policy.max_attempts, dead_letters=not stream) == "dead":
        _dead(s, row)
        return
    base, cap = ((min(policy.base_seconds, STREAM_RETRY_BASE_SECONDS), min(policy.max_seconds,
                                                                          STREAM_RETRY_MAX_SECONDS))
                 if stream else (policy.base_seconds, policy.max_seconds))
    row.status = "retrying"
    row.next_attempt_at = now + timedelta(seconds=retry_delay(row.attempts, base=base, cap=cap, jitter=jitter))


def _dead(s: Session, row: EventDelivery) -> None:
    row.status = "dead"
    audit.record(s, RELAY_ACTOR, "webhook.delivery_dead", "webhook_delivery", str(row.id),
                 {"subscription_id": row.subscription_id, "event_id": row.event_id, "attempts": row.attempts,
                  "last_error": row.last_error})
