"""A real `omniretail worker` killed (SIGKILL) in the middle of a delivery and started again: every event
arrives at least once, none is lost, and each object's events are first received in the order they were
written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from omniretail.core.db import Database
from omniretail.integration.models import DeliveryAttempt, EventDelivery
from tests.integration.receiver import Receiver, wait_until
from tests.integration.test_event_relay import emit_all, subscribe


def start_worker(db: Database, name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMNIRETAIL_DATABASE_URL": db.url, "OMNIRETAIL_RELAY_LEASE_SECONDS": "4",
           "OMNIRETAIL_WEBHOOK_TIMEOUT_SECONDS": "2", "OMNIRETAIL_RELAY_POLL_SECONDS": "0.1",
           "OMNIRETAIL_WEBHOOK_RETRY_BASE_SECONDS": "0.2"}
    env.pop("OMNIRETAIL_NATS_URL", None)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "omniretail.cli", "worker", "--name", name], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def open_deliveries(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(EventDelivery)
                        .where(EventDelivery.status != "delivered"))


def first_receptions(event_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(event_ids))


def test_a_worker_killed_mid_delivery_and_restarted_delivers_everything_at_least_once_in_order(db, tmp_path):
    plan = [("order.updated", f"K{o}", n) for n in range(1, 7) for o in range(6)]
    log = tmp_path / "workers.log"
    with Receiver(hold_at=10).running() as receiver:
        subscribe(db, receiver.url)
        ids = emit_all(db, plan)
        first = start_worker(db, "first", log)
        try:
            assert receiver.held.wait(timeout=60), log.read_text()
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=30) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
        receiver.release()  # the held request is answered, but nobody is left to hear it
        wait_until(lambda: any(r.number == 10 for r in receiver.received), what="the held request answered")
        held_event = next(r for r in receiver.received if r.number == 10).event_id
        second = start_worker(db, "second", log)
        try:
            wait_until(lambda: open_deliveries(db) == 0, seconds=120, what="every delivery delivered")
        finally:
            second.terminate()
            stopped = second.wait(timeout=30)

    assert stopped == 0, log.read_text()
    received = [r.event_id for r in receiver.received]
    assert set(received) == set(ids)
    for object_id in {p[1] for p in plan}:
        written = [i for i, p in zip(ids, plan, strict=True) if p[1] == object_id]
        assert first_receptions([e for e in received if e in written]) == written
    assert received.count(held_event) == 2
    with db.read() as s:
        held = s.scalars(select(EventDelivery).where(EventDelivery.event_id == held_event)).one()
        log_of_held = [(a.worker, a.outcome) for a in s.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == held.id).order_by(DeliveryAttempt.number))]
    assert log_of_held == [("first", "interrupted"), ("second", "delivered")]
