"""The outbox relay: route, claim, send, record, over and over; as `omniretail worker` or a thread of `serve`.

One round: route new outbox events to their deliveries, claim a batch of deliveries (a lease, committed), send
them (webhooks over HTTP, events to NATS JetStream), record the outcomes. Deliveries of different objects are
sent concurrently; those of one object one after the other, and a failure hands the object's remaining claimed
deliveries back unsent, so nothing overtakes it. A worker never starts a send that could outlast its lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Callable
from itertools import groupby

import httpx
from sqlalchemy.exc import OperationalError

from omniretail.core import jobs
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.integration import (
    pruning,  # noqa: F401 - registers the job that deletes old deliveries
    relay,
    webhooks,
)
from omniretail.integration.models import STREAM_TARGET
from omniretail.integration.relay import Claimed, Outcome, RetryPolicy
from omniretail.integration.stream import StreamPublisher
from omniretail.sourcing import live  # noqa: F401 - registers the job that computes the bid prices

log = logging.getLogger("omniretail.integration.worker")

#: Objects (chains of one object's deliveries) claimed per round, and deliveries per chain.
BATCH = 50
CHAIN = 20
#: A send is started only if it ends (at its timeout) this long before the lease does.
LEASE_MARGIN_SECONDS = 1.0


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class Relay:
    """One relay worker. Use `async with Relay(...)`, then `await relay.run(stop)` or `await relay.step()`."""

    def __init__(self, db: Database, settings: Settings, *, name: str | None = None, batch: int = BATCH,
                 chain: int = CHAIN, jitter: Callable[[], float] = random.random,
                 stream: StreamPublisher | None = None) -> None:
        self.db, self.settings = db, settings
        self.name = name or worker_name()
        self.batch, self.chain, self.jitter = batch, chain, jitter
        self.policy = RetryPolicy(max_attempts=settings.webhook_max_attempts,
                                  base_seconds=settings.webhook_retry_base_seconds,
                                  max_seconds=settings.webhook_retry_max_seconds)
        if stream is None and settings.nats_url:
            stream = StreamPublisher(settings.nats_url, stream=settings.nats_stream,
                                     prefix=settings.nats_subject_prefix)
        self.stream = stream
        self._client: httpx.AsyncClient | None = None
        self._jobs = jobs.Schedule()

    async def __aenter__(self) -> Relay:
        self._client = webhooks.webhook_client()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self.stream is not None:
            await self.stream.close()

    async def step(self) -> int:
        """One round; returns how many events were routed plus deliveries claimed (0: nothing to do)."""
        routed = await asyncio.to_thread(relay.route, self.db, stream=self.stream is not None)
        if self.stream is not None:
            self.stream.ensure_connecting()
        claimed = await asyncio.to_thread(
            relay.claim, self.db, worker=self.name, stream=self.stream is not None and self.stream.ready,
            limit=self.batch, chain=self.chain, lease_seconds=self.settings.relay_lease_seconds, policy=self.policy)
        if claimed:
            outcomes = await self._send_all(claimed)
            await asyncio.to_thread(relay.record, self.db, worker=self.name, outcomes=outcomes, policy=self.policy,
                                    jitter=self.jitter)
        done = await asyncio.to_thread(self._jobs.run_due, self.db)
        return routed + len(claimed) + done

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; idle rounds wait `relay_poll_seconds`, a database outage a little longer."""
        log.info("relay worker %s started", self.name)
        while not stop.is_set():
            pause = 0.0
            try:
                if not await self.step():
                    pause = self.settings.relay_poll_seconds
            except OperationalError as exc:
                log.warning("relay: database unavailable (%s); retrying", exc.orig)
                pause = max(self.settings.relay_poll_seconds, 2.0)
            except Exception:  # noqa: BLE001 - one bad round must not end the worker
                log.exception("relay round failed")
                pause = max(self.settings.relay_poll_seconds, 2.0)
            if pause:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                except TimeoutError:
                    pass
        log.info("relay worker %s stopped", self.name)

    async def _send_all(self, claimed: list[Claimed]) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        lease_ends = loop.time() + (claimed[0].claimed_until - utcnow()).total_seconds()
        chains = [list(group) for _, group in groupby(claimed, key=lambda c: (c.target, c.object_key))]
        results = await asyncio.gather(*(self._send_chain(chain, lease_ends) for chain in chains))
        return [outcome for chain_outcomes in results for outcome in chain_outcomes]

    async def _send_chain(self, chain: list[Claimed], lease_ends: float) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        outcomes: list[Outcome] = []
        timeout = self.settings.webhook_timeout_seconds
        for index, item in enumerate(chain):
            if loop.time() + timeout + LEASE_MARGIN_SECONDS > lease_ends:
                outcomes.extend(Outcome(c.delivery_id, attempted=False) for c in chain[index:])
                break
            outcome = await self._send_one(item, timeout)
            outcomes.append(outcome)
            if not outcome.delivered:
                outcomes.extend(Outcome(c.delivery_id, attempted=False) for c in chain[index + 1:])
                break
        return outcomes

    async def _send_one(self, item: Claimed, timeout: float) -> Outcome:
        started = utcnow()
        if item.target == STREAM_TARGET:
            assert self.stream is not None, "stream deliveries are claimed only with a stream"
            stored, error = await self.stream.publish(item.envelope)
            return Outcome(item.delivery_id, attempted=True, delivered=stored, started_at=started,
                           finished_at=utcnow(), error=error)
        assert self._client is not None and item.url is not None and item.secret is not None
        sent = await webhooks.send(self._client, url=item.url, secret=item.secret, envelope=item.envelope,
                                   timeout=timeout)
        if not sent.delivered:
            log.info("webhook delivery %s to %s failed: %s", item.delivery_id, httpx.URL(item.url).host, sent.error)
        return Outcome(item.delivery_id, attempted=True, delivered=sent.delivered, started_at=started,
                       finished_at=utcnow(), status_code=sent.status_code, error=sent.error)


async def run_until_stopped(db: Database, settings: Settings, stop: asyncio.Event, *, name: str | None = None) -> None:
    async with Relay(db, settings, name=name) as worker:
        await worker.run(stop)


class BackgroundRelay:
    """The relay in a thread of its own (with its own event loop), as `serve` and `demo` run it."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="omniretail-relay", daemon=True)

    def start(self) -> BackgroundRelay:
        self._thread.start()
        self._started.wait(timeout=10)
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._started.set()
            await run_until_stopped(self.db, self.settings, self._stop)

        asyncio.run(main())

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the round under way (its sends are bounded by their timeout) and end the thread."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=timeout)


def run_worker(db: Database, settings: Settings, *, name: str | None = None) -> None:
    """Run a relay worker in the foreground until SIGINT or SIGTERM (`omniretail worker`)."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_until_stopped(db, settings, stop, name=name)

    asyncio.run(main())
