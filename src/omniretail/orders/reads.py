"""The fast path's reads, shared: orders arriving at the same moment on one event loop are read by one statement
(`fastpath.READ_MANY`: the single-order read once per request, laterally), one row per request in its order.

Like the write (`inventory.batching`) there is no timer: a reader takes what is waiting, and what arrives while it
reads waits for the next statement (at most `READERS` at once). A statement that fails is run again request by
request, so an error reaches only the request that caused it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson

from omniretail.core.db import Database, execute_prepared

MAX_BATCH = 32
READERS = 2


@dataclass
class _Request:
    params: dict[str, Any]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ReadBatcher:
    def __init__(self, db: Database, statement: str) -> None:
        self.db = db
        self.statement = statement
        self.waiting: list[_Request] = []
        self.readers = 0
        self.statements = 0

    async def read(self, params: dict[str, Any]) -> Any:
        """The row `statement` reads for one request's parameters."""
        request = _Request(params)
        self.waiting.append(request)
        if self.readers < READERS:
            self.readers += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await request.done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                try:
                    rows = await self._execute(batch)
                except Exception as error:  # noqa: BLE001 - decided request by request below
                    if len(batch) == 1:
                        _fail(batch[0], error)
                        continue
                    for request in batch:
                        try:
                            _answer(request, (await self._execute([request]))[0])
                        except Exception as alone:  # noqa: BLE001 - handed to the request that caused it
                            _fail(request, alone)
                else:
                    for request, row in zip(batch, rows, strict=True):
                        _answer(request, row)
        finally:
            self.readers -= 1

    async def _execute(self, batch: list[_Request]) -> list[Any]:
        self.statements += 1
        requests = orjson.dumps([{**request.params, "n": n} for n, request in enumerate(batch)]).decode()
        async with self.db.async_statement_connection() as connection:
            cursor = await execute_prepared(connection, self.statement, {"requests": requests})
            return await cursor.fetchall()


def _answer(request: _Request, row: Any) -> None:
    if not request.done.done():
        request.done.set_result(row)


def _fail(request: _Request, error: Exception) -> None:
    if not request.done.done():
        request.done.set_exception(error)


def batcher(db: Database, statement: str) -> ReadBatcher:
    """The batcher of `statement` on `db` on the running event loop."""
    return db.on_loop((ReadBatcher, statement), lambda: ReadBatcher(db, statement))
