"""Group commit for the all-or-nothing reservation statement (`fastpath.reserve_all_statement`).

Orders decided at the same moment on one event loop share one statement: their lines are reserved together (each
level row locked once, in the fixed order) and all their rows inserted together, in one transaction. Most of that
statement's cost is the same however many orders it carries (starting its plan, the commit), so a batch of eight
costs PostgreSQL about a third of eight single writes per order (docs/benchmarks.md).

The batch is all or nothing as a whole; if it fails — a line short once the batch's quantities are added up, two
requests with the same `Idempotency-Key`, a lock cycle — nothing was written and every order in it is written
again on its own, so each gets exactly the answer it would have got alone. There is no timer: a writer takes what
is waiting, and what arrives while it writes waits for the next batch (at most `WRITERS` batches at once).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from omniretail.core.db import Database, execute_prepared
from omniretail.inventory.fastpath import refused, reserve_all_statement

MAX_BATCH = 16  # orders per statement
WRITTEN, REFUSED, COLLIDED = "written", "refused", "collided"
WRITERS = 2  # batches written at the same time per event loop

Rows = dict[str, list[dict[str, Any]]]
Plan = list[tuple[str, int, int]]
Loads = dict[tuple[str, date], int]  # units sent out per (location, its day)


@dataclass
class _Item:
    plan: Plan
    rows: Rows
    loads: Loads
    done: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class WriteBatcher:
    """The batches of one database on one event loop."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.waiting: list[_Item] = []
        self.writers = 0
        self.statements = 0  # written, batches and single retries alike (for tests and benchmarks)

    async def write(self, plan: Plan, rows: Rows, loads: Loads | None = None) -> str:
        """Reserve `plan` and insert `rows` with whatever else is waiting: `WRITTEN`, or, having written nothing,
        `REFUSED` (a short line or a full day, the guard's refusal) or `COLLIDED` (a key written at the same time,
        a lock cycle). `loads`: units sent out per location on its own day (`locations.capacity`). Any other database
        error is raised."""
        item = _Item(plan, rows, loads or {})
        self.waiting.append(item)
        if self.writers < WRITERS:
            self.writers += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await item.done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                await self._write(batch)
        finally:
            self.writers -= 1

    async def _write(self, batch: list[_Item]) -> None:
        if len(batch) > 1 and await self._together(batch):
            return
        for item in batch:
            try:
                await self._execute([item])
            except Exception as error:  # noqa: BLE001 - handed to the order that caused it
                if refused(error):
                    _settle(item, REFUSED)
                elif _collided(error):
                    _settle(item, COLLIDED)
                elif not item.done.done():
                    item.done.set_exception(error)
            else:
                _settle(item, WRITTEN)

    async def _together(self, batch: list[_Item]) -> bool:
        try:
            await self._execute(batch)
        except Exception:  # noqa: BLE001 - nothing was written; each order alone meets its own answer
            return False
        for item in batch:
            _settle(item, WRITTEN)
        return True

    async def _execute(self, items: list[_Item]) -> None:
        loads: Loads = {}
        for item in items:
            for key, units in item.loads.items():
                loads[key] = loads.get(key, 0) + units
        statement, values = reserve_all_statement(lines=[line for item in items for line in item.plan],
                                                  rows=merged([item.rows for item in items]), loads=loads)
        self.statements += 1
        async with self.db.async_statement_connection() as connection:
            await execute_prepared(connection, statement, values)


def merged(batch: list[Rows]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The rows of several orders by table and set of columns (a table whose rows differ in their columns gets
    one insert per set, so no row loses a value), tables in their first order's order."""
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for rows in batch:
        for table, table_rows in rows.items():
            for row in table_rows:
                groups.setdefault((table, tuple(row)), []).append(row)
    return [(table, group) for (table, _), group in groups.items()]


def _collided(error: Exception) -> bool:
    import psycopg

    return isinstance(error, psycopg.errors.UniqueViolation | psycopg.errors.DeadlockDetected)


def _settle(item: _Item, outcome: str) -> None:
    if not item.done.done():  # its caller may have gone (a client that hung up)
        item.done.set_result(outcome)


def batcher(db: Database) -> WriteBatcher:
    """The batcher of `db` on the running event loop."""
    return db.on_loop(WriteBatcher, lambda: WriteBatcher(db))
