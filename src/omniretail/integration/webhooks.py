"""Send one webhook: the event envelope POSTed as JSON with its `Omniretail-Signature` header."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from omniretail import __version__
from omniretail.integration.rules import SIGNATURE_HEADER, body_of, signature

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Sent:
    delivered: bool
    status_code: int | None = None
    error: str | None = None


def webhook_client() -> httpx.AsyncClient:
    """The HTTP client of a relay: no redirects followed (a receiver that moved answers 3xx, which fails)."""
    return httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": f"omniretail-webhooks/{__version__}"},
                             limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))


def headers_for(envelope: dict[str, Any], secret: str, body: bytes, now: float) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body, int(now)),
            "Omniretail-Event-Id": envelope["id"], "Omniretail-Event-Type": envelope["type"]}


async def send(client: httpx.AsyncClient, *, url: str, secret: str, envelope: dict[str, Any],
               timeout: float) -> Sent:
    """POST the envelope to `url`; any 2xx answer within `timeout` seconds acknowledges it."""
    body = body_of(envelope)
    headers = headers_for(envelope, secret, body, time.time())
    try:
        # wait_for bounds the whole exchange; httpx's own timeout is per read, which a trickling receiver outlasts.
        response = await asyncio.wait_for(client.post(url, content=body, headers=headers, timeout=timeout),
                                          timeout=timeout)
    except (TimeoutError, httpx.TimeoutException):
        return Sent(False, error=f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return Sent(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH])
    if 200 <= response.status_code < 300:
        return Sent(True, response.status_code)
    return Sent(False, response.status_code, f"HTTP {response.status_code} {response.reason_phrase}".strip())
