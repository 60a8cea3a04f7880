"""Publish events to NATS JetStream: subject `<prefix>.<event type>`, header `Nats-Msg-Id` = the event id.

JetStream drops a message whose `Nats-Msg-Id` it has seen within the stream's duplicate window, so an event
sent again after a worker died (at least once) is stored once. The stream is created if it is missing. The
publisher connects in the background and says when it is `ready`; until then the relay leaves stream
deliveries waiting, so NATS being down at start (or later) only delays events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from omniretail.integration.rules import body_of, subject_of

log = logging.getLogger("omniretail.integration.stream")

#: Longer than a worker's lease, so an event resent after its worker died is still recognised as a repeat.
DUPLICATE_WINDOW_SECONDS = 3600.0
MAX_ERROR_LENGTH = 500


class StreamPublisher:
    def __init__(self, url: str, *, stream: str, prefix: str, timeout: float = 5.0,
                 reconnect_seconds: float = 2.0) -> None:
        self.url, self.stream, self.prefix = url, stream, prefix
        self.timeout, self.reconnect_seconds = timeout, reconnect_seconds
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._last_try = float("-inf")
        self._warned = False

    @property
    def ready(self) -> bool:
        return self._nc is not None and self._js is not None and self._nc.is_connected

    def ensure_connecting(self) -> None:
        """Start connecting in the background unless connected, connecting, or it was tried a moment ago."""
        if self.ready or (self._connecting is not None and not self._connecting.done()):
            return
        if time.monotonic() - self._last_try < self.reconnect_seconds:
            return
        self._last_try = time.monotonic()
        self._connecting = asyncio.create_task(self._connect())

    async def wait_connected(self) -> bool:
        """Finish the connection attempt under way, if any; whether the publisher is ready."""
        self.ensure_connecting()
        if self._connecting is not None:
            await asyncio.gather(self._connecting, return_exceptions=True)
        return self.ready

    async def _connect(self) -> None:
        await self._drop()

        async def quiet(error: Exception) -> None:
            log.debug("nats: %s", error)

        nc: Client | None = None
        try:
            nc = await nats.connect(servers=[self.url], connect_timeout=2, allow_reconnect=True,
                                    max_reconnect_attempts=2, reconnect_time_wait=0.5, error_cb=quiet,
                                    name="omniretail-relay")
            js = nc.jetstream(timeout=self.timeout)
            await self._ensure_stream(js)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the events waiting; retried later
            if not self._warned:
                log.warning("NATS at %s not available (%s); events wait in the outbox", self.url, exc or type(exc))
                self._warned = True
            if nc is not None and not nc.is_closed:
                await nc.close()
            return
        if self._warned:
            log.warning("NATS at %s is back; publishing the events that waited", self.url)
        self._warned = False
        self._nc, self._js = nc, js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self.stream)
            return
        except NotFoundError:
            pass
        try:
            await js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"],
                                duplicate_window=DUPLICATE_WINDOW_SECONDS)
            log.info("created JetStream stream %s for %s.>", self.stream, self.prefix)
        except BadRequestError:
            await js.stream_info(self.stream)  # another worker made it a moment ago

    async def publish(self, envelope: dict[str, Any]) -> tuple[bool, str | None]:
        """Publish one event and wait for JetStream's acknowledgement: (stored, why not)."""
        if not self.ready or self._js is None:
            return False, "not connected to NATS"
        try:
            await self._js.publish(subject_of(self.prefix, envelope["type"]), body_of(envelope),
                                   timeout=self.timeout, stream=self.stream,
                                   headers={"Nats-Msg-Id": envelope["id"], "Omniretail-Event-Type": envelope["type"]})
        except Exception as exc:  # noqa: BLE001 - timeouts, no responders, a connection lost mid-way
            if self._nc is not None and self._nc.is_closed:
                self._nc = self._js = None
            return False, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        return True, None

    async def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("closing the NATS connection failed", exc_info=True)

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        await self._drop()
