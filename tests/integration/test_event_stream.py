"""Events on NATS JetStream, against real nats-server processes: subjects, message ids, the stream made if
missing, repeats dropped, and events waiting in the outbox while NATS is down."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import select

from omniretail.bench.common import free_port
from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.models import OutboxEvent
from omniretail.core.outbox import envelope
from omniretail.integration.models import EventDelivery
from omniretail.integration.rules import body_of
from omniretail.integration.stream import DUPLICATE_WINDOW_SECONDS, StreamPublisher
from omniretail.integration.worker import Relay
from tests.integration.test_event_relay import emit_all

NATS_URL = "nats://127.0.0.1:4222"
NATS_SERVER = "/usr/sbin/nats-server"


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    """A stream name and subject prefix of this test alone (the local server is shared); deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"OMNITEST_{tag}", f"omnitest_{tag}"
    yield stream, prefix

    async def drop() -> None:
        nc = await nats.connect(NATS_URL)
        try:
            await nc.jetstream().delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass
        await nc.close()

    asyncio.run(drop())


def settings_for(db: Database, url: str, stream: str, prefix: str) -> Settings:
    return Settings(database_url=db.url, nats_url=url, nats_stream=stream, nats_subject_prefix=prefix,
                    webhook_timeout_seconds=5, relay_lease_seconds=30)


async def stored(url: str, stream: str) -> list[Any]:
    """Every message of the stream, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        return [await js.get_msg(stream, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)
                if info.state.messages]
    finally:
        await nc.close()


async def stream_config(url: str, stream: str) -> Any:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(stream)).config
    finally:
        await nc.close()


def envelopes(db: Database) -> dict[str, dict[str, Any]]:
    with db.read() as s:
        return {row.id: envelope(row) for row in s.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))}


def stream_deliveries(db: Database) -> list[tuple[str, int]]:
    with db.read() as s:
        return [(d.status, d.attempts) for d in s.scalars(
            select(EventDelivery).where(EventDelivery.target == "stream").order_by(EventDelivery.id))]


def test_events_are_published_to_prefix_dot_type_with_the_event_id_as_message_id_in_a_stream_made_for_them(
        db, names):
    stream, prefix = names
    ids = emit_all(db, [("order.created", "A", 1), ("order.held", "A", 2), ("order.created", "B", 1)])

    async def run() -> None:
        async with Relay(db, settings_for(db, NATS_URL, stream, prefix)) as worker:
            assert await worker.stream.wait_connected()
            await worker.step()

    asyncio.run(run())

    messages = asyncio.run(stored(NATS_URL, stream))
    config = asyncio.run(stream_config(NATS_URL, stream))
    sent = envelopes(db)
    assert (config.subjects, config.duplicate_window) == ([f"{prefix}.>"], DUPLICATE_WINDOW_SECONDS)
    assert sorted(m.subject for m in messages) == sorted([f"{prefix}.order.created", f"{prefix}.order.held",
                                                          f"{prefix}.order.created"])
    assert sorted(m.headers["Nats-Msg-Id"] for m in messages) == sorted(ids)
    assert all(m.data == body_of(sent[m.headers["Nats-Msg-Id"]]) for m in messages)
    of_a = [m.headers["Nats-Msg-Id"] for m in messages if json.loads(m.data)["object_id"] == "A"]
    assert of_a == ids[:2]
    assert stream_deliveries(db) == [("delivered", 1)] * 3


def test_jetstream_drops_an_event_published_again_by_its_message_id(db, names):
    stream, prefix = names
    [event_id] = emit_all(db, [("order.created", "A", 1)])
    event = envelopes(db)[event_id]

    async def run() -> list[tuple[bool, str | None]]:
        publisher = StreamPublisher(NATS_URL, stream=stream, prefix=prefix)
        try:
            assert await publisher.wait_connected()
            return [await publisher.publish(event), await publisher.publish(event)]
        finally:
            await publisher.close()

    assert asyncio.run(run()) == [(True, None), (True, None)]
    messages = asyncio.run(stored(NATS_URL, stream))
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [event_id]


@pytest.fixture
def nats_later(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A port where no NATS listens yet, and a function that starts nats-server (JetStream) there."""
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(subprocess.Popen([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(port),
                                           "-sd", str(tmp_path / "jetstream")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("nats-server did not start within 30 s")

    yield f"nats://127.0.0.1:{port}", start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def test_events_wait_in_the_outbox_while_nats_is_down_and_flow_in_order_once_it_is_back(db, nats_later):
    url, start_nats = nats_later
    stream, prefix = "OMNIRETAIL", "omniretail"
    ids = emit_all(db, [("order.created", "A", 1), ("order.held", "A", 2), ("order.confirmed", "A", 3)])

    async def run() -> tuple[bool, list[tuple[str, int]], bool]:
        publisher = StreamPublisher(url, stream=stream, prefix=prefix, reconnect_seconds=0.1)
        async with Relay(db, settings_for(db, url, stream, prefix), stream=publisher) as worker:
            connected_while_down = await publisher.wait_connected()
            for _ in range(3):
                await worker.step()
            waiting = stream_deliveries(db)
            start_nats()
            deadline = time.monotonic() + 60
            while stream_deliveries(db) != [("delivered", 1)] * 3 and time.monotonic() < deadline:
                await publisher.wait_connected()
                await worker.step()
            return connected_while_down, waiting, publisher.ready

    connected_while_down, waiting, ready_at_end = asyncio.run(run())

    assert (connected_while_down, ready_at_end) == (False, True)
    assert waiting == [("pending", 0)] * 3
    assert stream_deliveries(db) == [("delivered", 1)] * 3
    messages = asyncio.run(stored(url, stream))
    assert [(m.subject, m.headers["Nats-Msg-Id"]) for m in messages] == [
        ("omniretail.order.created", ids[0]), ("omniretail.order.held", ids[1]),
        ("omniretail.order.confirmed", ids[2])]
