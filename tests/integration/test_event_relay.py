"""The outbox relay against a real HTTP receiver, on both databases: order per object, signatures, retries,
dead letters, replays, interrupted claims, and two workers at once."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from omniretail.core import clock
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.errors import Conflict
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.outbox import Event, emit, envelope
from omniretail.core.security import SYSTEM
from omniretail.integration import relay as relay_steps
from omniretail.integration import service
from omniretail.integration.models import DeliveryAttempt, EventDelivery
from omniretail.integration.rules import SIGNATURE_HEADER, body_of, verify_signature
from omniretail.integration.worker import Relay
from tests.integration.receiver import Receiver, wait_until

SECRET = "test-webhook-secret-0123"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


@pytest.fixture
def advance() -> Iterator[object]:
    """Move this process's clock forward (past retry waits and leases); put back afterwards."""
    def forward(seconds: float) -> None:
        clock._offset += timedelta(seconds=seconds)

    yield forward
    clock._offset = timedelta(0)


def settings_for(db: Database, **overrides: object) -> Settings:
    values = {"database_url": db.url, "webhook_timeout_seconds": 5, "relay_lease_seconds": 30,
              "webhook_retry_base_seconds": 10, "webhook_max_attempts": 5, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


def subscribe(db: Database, url: str, events: list[str] | None = None) -> int:
    with db.write() as s:
        return service.create_subscription(s, actor=SYSTEM, url=url, events=events or ["*"], secret=SECRET).id


def emit_all(db: Database, events: list[tuple[str, str, int]]) -> list[str]:
    """Emit (type, object id, n) events, one transaction each, in this order; returns their ids."""
    ids = []
    for type_, object_id, n in events:
        with db.write() as s:
            ids.append(emit(s, Event(type_, "order", object_id, {"n": n})).id)
    return ids


def rounds(worker: Relay, count: int = 1, advance=None, seconds: float = 0) -> None:
    """Run `count` rounds of the worker, moving the clock `seconds` ahead before each round after the first."""
    async def run() -> None:
        async with worker:
            for i in range(count):
                if i and advance is not None:
                    advance(seconds)
                await worker.step()

    asyncio.run(run())


def deliveries(db: Database) -> list[EventDelivery]:
    with db.read() as s:
        return list(s.scalars(select(EventDelivery).order_by(EventDelivery.id)))


def attempt_log(db: Database, delivery_id: int) -> list[tuple[str, int | None]]:
    with db.read() as s:
        return [(a.outcome, a.status_code) for a in s.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.number))]


def per_object(received: list[str], objects: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event_id in received:
        found.setdefault(objects[event_id], []).append(event_id)
    return found


def test_the_relay_delivers_every_event_once_signed_and_in_order_per_object(db):
    plan = [("order.created", "A", 1), ("order.created", "B", 1), ("order.held", "A", 2), ("order.confirmed", "A", 3),
            ("order.confirmed", "B", 2), ("order.completed", "A", 4)]
    with Receiver().running() as receiver:
        subscribe(db, receiver.url)
        ids = emit_all(db, plan)
        rounds(Relay(db, settings_for(db)), 2)

    objects = dict(zip(ids, [p[1] for p in plan], strict=True))
    assert sorted(r.event_id for r in receiver.received) == sorted(ids)
    assert per_object(receiver.acknowledged(), objects) == {"A": [ids[0], ids[2], ids[3], ids[5]],
                                                            "B": [ids[1], ids[4]]}
    assert [(d.status, d.attempts) for d in deliveries(db)] == [("delivered", 1)] * 6
    with db.read() as s:
        envelopes = {row.id: envelope(row) for row in s.scalars(select(OutboxEvent))}
    first = receiver.received[0]
    assert first.body == body_of(envelopes[first.event_id])
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Omniretail-Event-Id"] == first.event_id
    assert all(verify_signature(SECRET, r.body, r.headers[SIGNATURE_HEADER], now=float(
        r.headers[SIGNATURE_HEADER].split(",")[0][2:])) for r in receiver.received)


def test_a_receiver_failing_three_times_then_succeeding_gets_the_event_once_acknowledged_after_four_attempts(
        db, advance):
    with Receiver(lambda n, _e: 500 if n <= 3 else 204).running() as receiver:
        subscribe(db, receiver.url)
        [event_id] = emit_all(db, [("order.created", "A", 1)])
        rounds(Relay(db, settings_for(db)), 8, advance, seconds=3600)

    assert [r.event_id for r in receiver.received] == [event_id] * 4
    assert receiver.statuses_of(event_id) == [500, 500, 500, 204]
    assert receiver.acknowledged() == [event_id]
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 4, 204)
    assert attempt_log(db, delivery.id) == [("failed", 500)] * 3 + [("delivered", 204)]


def test_retries_wait_longer_after_each_failure(db):
    with Receiver(lambda _n, _e: 503).running() as receiver:
        subscribe(db, receiver.url)
        emit_all(db, [("order.created", "A", 1)])
        worker = Relay(db, settings_for(db, webhook_retry_base_seconds=10), jitter=lambda: 1.0)
        waits = []
        for _ in range(3):
            before = clock.utcnow()
            rounds(worker)
            [delivery] = deliveries(db)
            waits.append(round((delivery.next_attempt_at - before).total_seconds()))
            clock._offset += delivery.next_attempt_at - clock.utcnow()
        clock._offset = timedelta(0)

    assert waits == [10, 20, 40]
    assert [r.status for r in receiver.received] == [503, 503, 503]


def test_a_later_event_of_an_object_waits_while_an_earlier_one_retries_and_other_objects_flow(db, advance):
    with Receiver().running() as receiver:
        subscribe(db, receiver.url)
        ids = emit_all(db, [("order.created", "A", 1), ("order.held", "A", 2), ("order.created", "B", 1)])
        # The first try of A's first event fails (whichever object's request reaches the receiver first).
        receiver.answer = lambda _n, e: 500 if e["id"] == ids[0] and receiver.statuses_of(ids[0]) == [] else 200
        worker = Relay(db, settings_for(db))
        rounds(worker)
        after_first_round = [r.event_id for r in receiver.received]
        waiting = {d.event_id: (d.status, d.attempts, d.next_attempt_at) for d in deliveries(db)}
        rounds(worker, 2, advance, seconds=3600)

    assert sorted(after_first_round) == sorted([ids[0], ids[2]])
    assert waiting[ids[0]][:2] == ("retrying", 1)
    assert waiting[ids[1]] == ("pending", 0, waiting[ids[0]][2])
    assert [(r.event_id, r.status) for r in receiver.received if r.event["object_id"] == "A"] == [
        (ids[0], 500), (ids[0], 200), (ids[1], 200)]


def test_a_delivery_is_dead_after_its_last_try_and_then_no_longer_holds_back_its_object(db, advance):
    with Receiver().running() as receiver:
        subscribe(db, receiver.url)
        ids = emit_all(db, [("order.created", "A", 1), ("order.held", "A", 2)])
        receiver.answer = lambda _n, e: 500 if e["id"] == ids[0] else 200
        rounds(Relay(db, settings_for(db, webhook_max_attempts=3)), 5, advance, seconds=3600)

    assert [r.event_id for r in receiver.received] == [ids[0], ids[0], ids[0], ids[1]]
    first, second = deliveries(db)
    assert (first.status, first.attempts, second.status) == ("dead", 3, "delivered")
    with db.read() as s:
        dead = s.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.delivery_dead")).one()
    assert (dead.actor, dead.object_id, dead.changes["attempts"]) == ("system:relay", str(first.id), 3)


def test_replaying_a_dead_delivery_sends_its_event_again_as_a_new_delivery(db, advance):
    with Receiver(lambda _n, _e: 500).running() as receiver:
        subscription = subscribe(db, receiver.url)
        [event_id] = emit_all(db, [("order.created", "A", 1)])
        worker = Relay(db, settings_for(db, webhook_max_attempts=2))
        rounds(worker, 3, advance, seconds=3600)
        [dead] = deliveries(db)
        receiver.answer = lambda _n, _e: 200
        with db.write() as s:
            replay = service.replay_delivery(s, actor=SYSTEM, subscription_id=subscription, delivery_id=dead.id)
        with pytest.raises(Conflict) as refused, db.write() as s:
            service.replay_delivery(s, actor=SYSTEM, subscription_id=subscription, delivery_id=dead.id)
        rounds(worker)

    assert refused.value.code == "delivery_in_progress"
    assert receiver.statuses_of(event_id) == [500, 500, 200]
    original, again = deliveries(db)
    assert (original.status, again.id, again.status, again.replay_of_id, again.attempts) == (
        "dead", replay.id, "delivered", original.id, 1)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "webhook.delivery_replayed")) == 1


def test_a_claim_whose_worker_died_is_logged_as_interrupted_and_sent_again_after_its_lease(db, advance):
    with Receiver().running() as receiver:
        subscribe(db, receiver.url)
        [event_id] = emit_all(db, [("order.created", "A", 1)])
        settings = settings_for(db)
        worker = Relay(db, settings)
        relay_steps.route(db, stream=False)
        [claimed] = relay_steps.claim(db, worker="dead-worker", stream=False, limit=10, chain=5,
                                      lease_seconds=30, policy=worker.policy)
        rounds(worker)
        assert receiver.received == []
        advance(31)
        rounds(worker)

    assert [r.event_id for r in receiver.received] == [event_id]
    [delivery] = deliveries(db)
    assert (delivery.id, delivery.status, delivery.attempts) == (claimed.delivery_id, "delivered", 2)
    with db.read() as s:
        log = [(a.worker, a.outcome) for a in s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.number))]
    assert log == [("dead-worker", "interrupted"), (worker.name, "delivered")]


def test_two_workers_claim_different_objects_and_never_one_objects_later_event_alone(db):
    with Receiver().running() as receiver:
        subscribe(db, receiver.url)
        emit_all(db, [(t, o, n) for n, t in enumerate(("order.created", "order.held", "order.confirmed"), 1)
                      for o in ("X", "Y", "Z")])
        policy = Relay(db, settings_for(db)).policy
        relay_steps.route(db, stream=False)
        first = relay_steps.claim(db, worker="a", stream=False, limit=2, chain=2, lease_seconds=30, policy=policy)
        second = relay_steps.claim(db, worker="b", stream=False, limit=10, chain=2, lease_seconds=30, policy=policy)
        third = relay_steps.claim(db, worker="c", stream=False, limit=10, chain=2, lease_seconds=30, policy=policy)

    def shape(claimed):
        return [(c.object_key, c.envelope["data"]["n"]) for c in claimed]

    assert shape(first) == [("order:X", 1), ("order:X", 2), ("order:Y", 1), ("order:Y", 2)]
    assert shape(second) == [("order:Z", 1), ("order:Z", 2)]
    assert third == []


def test_two_workers_running_at_once_deliver_every_event_exactly_once_and_never_twice_at_the_same_time(db):
    plan = [("order.updated", f"O{o}", n) for n in range(1, 9) for o in range(15)]
    with Receiver(delay=0.002).running() as receiver:
        subscribe(db, receiver.url)
        ids = emit_all(db, plan)
        workers = [Relay(Database(db.url), settings_for(db, relay_poll_seconds=0.05), name=name, batch=4, chain=3)
                   for name in ("worker-a", "worker-b")]
        stops: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        ready = threading.Barrier(3)

        def work(worker: Relay) -> None:
            async def main() -> None:
                stop = asyncio.Event()
                stops.append((asyncio.get_running_loop(), stop))
                ready.wait()
                async with worker:
                    await worker.run(stop)
            asyncio.run(main())

        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        ready.wait()
        wait_until(lambda: len(receiver.received) >= len(ids), what="every event delivered")
        for loop, stop in stops:
            loop.call_soon_threadsafe(stop.set)
        for thread in threads:
            thread.join(timeout=30)
        for worker in workers:
            worker.db.dispose()

    objects = dict(zip(ids, [p[1] for p in plan], strict=True))
    assert receiver.overlaps == []  # never twice at the same time
    received = [r.event_id for r in receiver.received]
    assert sorted(set(received)) == sorted(ids)
    expected = {f"O{o}": [i for i, p in zip(ids, plan, strict=True) if p[1] == f"O{o}"] for o in range(15)}
    assert per_object(list(dict.fromkeys(receiver.acknowledged())), objects) == expected
    with db.read() as s:
        senders = set(s.scalars(select(DeliveryAttempt.worker).distinct()))
        unconfirmed = set(s.scalars(select(EventDelivery.event_id).join(
            DeliveryAttempt, DeliveryAttempt.delivery_id == EventDelivery.id).where(
            DeliveryAttempt.outcome != "delivered")))
    assert senders == {"worker-a", "worker-b"}
    # At least once: an event comes again only after a try whose answer the worker did not get (a timeout on
    # a loaded machine), never because two workers held it.
    assert {i for i in received if received.count(i) > 1} <= unconfirmed


def test_a_subscription_gets_only_later_events_of_its_types_and_none_after_it_is_deleted(db):
    with Receiver().running() as receiver:
        emit_all(db, [("order.created", "OLD", 1)])
        subscription = subscribe(db, receiver.url, ["order.held", "stock.*"])
        with db.write() as s:
            emit(s, Event("stock.changed", "stock", "wh:MILK", {"n": 1}))
            emit(s, Event("order.created", "order", "A", {"n": 1}))
            emit(s, Event("order.held", "order", "B", {"n": 1}))
        rounds(Relay(db, settings_for(db)))
        with db.write() as s:
            service.delete_subscription(s, actor=SYSTEM, subscription_id=subscription)
            emit(s, Event("stock.changed", "stock", "wh:MILK", {"n": 2}))
        rounds(Relay(db, settings_for(db)))

    assert sorted((r.event["type"], r.event["data"]["n"]) for r in receiver.received) == [
        ("order.held", 1), ("stock.changed", 1)]
    assert [d.status for d in deliveries(db)] == ["delivered", "delivered"]


def test_deleting_a_subscription_cancels_its_open_deliveries(db):
    with db.write() as s:
        subscription = service.create_subscription(s, actor=SYSTEM, url="http://127.0.0.1:9/none", events=["*"],
                                                   secret=SECRET).id
    emit_all(db, [("order.created", "A", 1), ("order.held", "A", 2)])
    relay_steps.route(db, stream=False)
    with db.write() as s:
        service.delete_subscription(s, actor=SYSTEM, subscription_id=subscription)

    assert [d.status for d in deliveries(db)] == ["cancelled", "cancelled"]
    with db.read() as s:
        assert s.scalars(select(AuditEntry.changes).where(AuditEntry.action == "webhook.deleted")).one() == {
            "cancelled_deliveries": 2}


def test_the_secret_is_in_no_audit_entry_and_no_log_line(db, caplog, advance):
    caplog.set_level("DEBUG")
    with Receiver(lambda _n, _e: 500).running() as receiver:
        subscribe(db, receiver.url)
        emit_all(db, [("order.created", "A", 1)])
        rounds(Relay(db, settings_for(db, webhook_max_attempts=2)), 3, advance, seconds=3600)

    with db.read() as s:
        audit_text = " ".join(str(e.changes) + str(e.note) for e in s.scalars(select(AuditEntry)))
    assert [d.status for d in deliveries(db)] == ["dead"]
    assert SECRET not in audit_text
    assert SECRET not in caplog.text


def test_the_documented_verification_snippet_accepts_a_real_delivery_and_refuses_a_changed_one(db):
    code = re.search(r"```python\n(.*?def verify_omniretail_signature.*?)```", DOCS.read_text(), re.S)
    assert code is not None, "docs/integration.md has the verification snippet"
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)  # noqa: S102 - the documented snippet, run as a receiver would
    verify = namespace["verify_omniretail_signature"]
    with Receiver().running() as receiver:
        subscribe(db, receiver.url)
        emit_all(db, [("order.created", "A", 1)])
        rounds(Relay(db, settings_for(db)))

    [delivery] = receiver.received
    header = delivery.headers[SIGNATURE_HEADER]
    assert verify(SECRET, delivery.body, header) is True
    assert verify(SECRET, delivery.body.replace(b'"n":1', b'"n":2'), header) is False
    assert verify("another-secret-0123456", delivery.body, header) is False


def test_a_receiver_too_slow_or_not_listening_is_a_failed_try_with_the_reason(db):
    from omniretail.bench.common import free_port

    with Receiver(delay=3).running() as slow:
        subscribe(db, slow.url)
        subscribe(db, f"http://127.0.0.1:{free_port()}/nobody")
        emit_all(db, [("order.created", "A", 1)])
        rounds(Relay(db, settings_for(db, webhook_timeout_seconds=0.5, relay_lease_seconds=5)))

    too_slow, refused = deliveries(db)
    assert (too_slow.status, too_slow.attempts, too_slow.last_error) == ("retrying", 1, "no answer within 0.5 s")
    assert (refused.status, refused.attempts, refused.last_error.split(":")[0]) == ("retrying", 1, "ConnectError")
