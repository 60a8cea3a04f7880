"""Shared statements of the order fast path (PostgreSQL): orders decided at once share a write (`inventory.batching`,
group commit) and orders arriving at once share a read (`orders.reads`), and each still gets the answer it would
have got alone — a short order in a batch does not take the others with it, a key sent twice at once is written
once, an error is raised to the order or request that caused it only."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from omniretail.core.config import Settings
from omniretail.core.db import Database
from omniretail.core.models import IdempotencyRecord, OutboxEvent
from omniretail.inventory import batching
from omniretail.inventory.errors import InsufficientStock
from omniretail.inventory.invariants import stock_violations
from omniretail.orders import fastpath, reads
from omniretail.orders.invariants import order_violations
from omniretail.orders.models import Order
from tests.integration.test_order_fastpath import ACTOR, _order, _run, network  # noqa: F401 - the fixture

POSTGRES = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def _place(db: Database, body: Any, key: str | None = None) -> Any:
    idempotency = None if key is None else {"owner": "key:99", "key": key, "method": "POST",
                                            "path": "/api/v1/orders", "fingerprint": "f" * 64}
    return fastpath.place(db, actor=ACTOR, body=body, settings=Settings(), idempotency=idempotency)


@POSTGRES
def test_orders_placed_at_once_share_statements_and_are_all_written(db: Database,
                                                                    network: dict[str, int]) -> None:  # noqa: F811
    async def race() -> tuple[list[Any], int, int]:
        answers = await asyncio.gather(*[_place(db, _order(network["ada"], [("MILK", 1), ("SOAP", 2)]))
                                         for _ in range(12)])
        return answers, batching.batcher(db).statements, reads.batcher(db, fastpath.READ_MANY).statements

    answers, writes, read_statements = _run(db, race())

    assert all(a is not None for a in answers)
    assert writes < 12 and read_statements < 12  # fewer statements than orders: they were shared
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 12
        assert {a["id"] for a in answers} == set(s.scalars(select(Order.id)))
        events = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.object_type.in_(("order",
                                                                                                  "reservation")))
        assert s.scalar(events) == 12 * 4  # created, confirmed, 2 × reserved
        assert stock_violations(s) == [] and order_violations(s) == []


@POSTGRES
def test_a_short_order_in_a_batch_leaves_the_others_written(db: Database,
                                                             network: dict[str, int]) -> None:  # noqa: F811
    async def race() -> list[Any]:
        return await asyncio.gather(*[_place(db, _order(network["bo"], [("LAMP", 3)] if n % 2 else [("MILK", 1)]))
                                      for n in range(10)], return_exceptions=True)

    answers = _run(db, race())

    lamps = [a for n, a in enumerate(answers) if n % 2]
    milk = [a for n, a in enumerate(answers) if not n % 2]
    assert all(isinstance(a, dict) for a in milk)
    assert sum(isinstance(a, dict) for a in lamps) == 3  # 10 lamps, 3 each: three orders, two refused
    assert all(isinstance(a, InsufficientStock) for a in lamps if not isinstance(a, dict))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 5 + 3
        assert stock_violations(s) == [] and order_violations(s) == []


@POSTGRES
def test_one_key_sent_twice_at_once_is_written_once(db: Database, network: dict[str, int]) -> None:  # noqa: F811
    async def race() -> list[Any]:
        return await asyncio.gather(*[_place(db, _order(network["cy"], [("MILK", 1)]), key="twice")
                                      for _ in range(2)] + [_place(db, _order(network["cy"], [("SOAP", 1)]))])

    first, second, other = _run(db, race())

    assert other is not None
    assert (first is None) != (second is None)  # the loser goes to the transactional path, which replays
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
        assert s.scalar(select(func.count()).select_from(Order)) == 2


@POSTGRES
def test_an_error_reaches_only_the_order_that_caused_it(db: Database, network: dict[str, int]) -> None:  # noqa: F811
    bad_rows = {"orders": [{"id": 999_999, "status": "not-a-status"}]}  # a check constraint refuses it

    async def race() -> list[Any]:
        writer = batching.batcher(db)
        return await asyncio.gather(writer.write([], bad_rows),
                                    *[_place(db, _order(network["ada"], [("MILK", 1)])) for _ in range(4)],
                                    return_exceptions=True)

    bad, *good = _run(db, race())

    assert isinstance(bad, psycopg.Error)
    assert all(isinstance(a, dict) for a in good)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 4


def test_rows_of_one_table_with_different_columns_are_inserted_apart() -> None:
    groups = batching.merged([{"t": [{"a": 1, "b": 2}], "u": [{"x": 1}]}, {"t": [{"a": 3}, {"a": 4, "b": 5}]}])
    assert groups == [("t", [{"a": 1, "b": 2}, {"a": 4, "b": 5}]), ("u", [{"x": 1}]), ("t", [{"a": 3}])]


@POSTGRES
def test_a_read_that_fails_fails_alone(db: Database, network: dict[str, int]) -> None:  # noqa: F811
    async def race() -> list[Any]:
        reader = reads.batcher(db, fastpath.READ_MANY)
        good = {"reservations": 1, "channel": "web", "customer_id": network["ada"], "skus": ["MILK"],
                "locations": ["store-a"], "owner": None, "key": None, "delivery": False, "today": "2026-12-02"}
        return await asyncio.gather(*[reader.read(good) for _ in range(3)],
                                    reader.read({**good, "customer_id": "not a number"}),
                                    return_exceptions=True)

    *good, bad = _run(db, race())

    assert isinstance(bad, psycopg.Error)
    assert all(row[3][0] == "active" for row in good)  # the customer's status, read for each request
    assert len({row[0] for row in good}) == 3  # each request drew its own order id
