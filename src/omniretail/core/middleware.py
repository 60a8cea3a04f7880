"""Refuse NUL characters anywhere in a request before they reach a database.

PostgreSQL text cannot hold NUL (0x00) and SQLite would store it silently; either way it is
never meaningful retail data. A request with one in its path, query or JSON body gets a 422
problem (`invalid_text`) naming where it was.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from omniretail.core.errors import PROBLEM_JSON

Scope = dict[str, Any]


class NulGuard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for where, raw in (("path", scope.get("raw_path") or scope["path"].encode()),
                           ("query", scope.get("query_string", b""))):
            if b"\x00" in unquote_to_bytes(raw):
                await _refuse(send, where)
                return
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return
        if b"\\u0000" in body or b"\x00" in body:
            await _refuse(send, "body")
            return
        await self.app(scope, replaying(receive, body), send)


async def read_body(receive: Any) -> bytes | None:
    """The whole body of an ASGI request, or None when the client went away first."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replaying(receive: Any, body: bytes) -> Any:
    """A `receive` that hands the app the body read already, then whatever the client sends next."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(send: Any, where: str) -> None:
    body = json.dumps({"type": "/problems/invalid_text", "title": "Unprocessable content", "status": 422,
                       "code": "invalid_text", "detail": f"The request {where} contains a NUL character",
                       "errors": [{"field": where, "message": "NUL characters are not allowed",
                                   "code": "invalid_text"}]}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
