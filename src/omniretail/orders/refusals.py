"""Refusals on the order fast path: an order that cannot have its units is answered 409 `insufficient_stock`
without the transactional path, when the answer is certainly the one that path would give.

That is the case for a delivery the network cannot fill as read (`NetworkShort` from the decision), and for a
pickup whose write was refused when its store's levels show the short lines and there is nothing the
transactional path would sweep first (expired lots not yet marked, lapsed holds) — then the short lines, what was
asked and what is available are the ones `reservations.reserve` names. The refusal is the request's first
answer for its `Idempotency-Key` as everywhere else (stored; a key already stored goes to the transactional path,
which replays or refuses the reuse). Anything else is handed back.
"""

from __future__ import annotations

from typing import Any

import orjson

from omniretail.core.clock import utcnow
from omniretail.core.db import Database, execute_prepared
from omniretail.core.errors import DomainError
from omniretail.inventory import allocation
from omniretail.inventory.errors import InsufficientStock

LEVELS = """
SELECT s.location_id, s.product_id, s.on_hand, s.reserved, s.expired,
       COALESCE(s.safety_stock, l.safety_stock, 0),
       COALESCE(s.next_expiry < %(today)s, false)
       OR EXISTS (SELECT 1 FROM reservations r WHERE r.location_id = s.location_id AND r.product_id = s.product_id
                  AND r.status = 'active' AND r.expires_at < %(now)s)
FROM unnest(%(location_ids)s::text[], %(product_ids)s::int[]) AS w(location_id, product_id)
JOIN stock_levels s ON s.location_id = w.location_id AND s.product_id = w.product_id
JOIN locations l ON l.id = s.location_id
"""
REMEMBER = """
INSERT INTO idempotency_keys (owner, key, method, path, fingerprint, status_code, response, created_at)
VALUES (%(owner)s, %(key)s, %(method)s, %(path)s, %(fingerprint)s, %(status)s, %(response)s::jsonb, %(now)s)
ON CONFLICT DO NOTHING RETURNING true
"""


async def short_pickup(db: Database, plan: list[tuple[str, int, int]],
                       skus: dict[int, str]) -> InsufficientStock | None:
    """The refusal `reservations.reserve` would give a pickup's refused plan ((location, product, units)), or
    None when its levels do not show it for certain."""
    merged: dict[tuple[str, int], int] = {}
    for location_id, product_id, quantity in plan:
        merged[(location_id, product_id)] = merged.get((location_id, product_id), 0) + quantity
    now = utcnow()
    keys = sorted(merged)
    async with db.async_statement_connection() as connection:
        cursor = await execute_prepared(connection, LEVELS, {
            "location_ids": [k[0] for k in keys], "product_ids": [k[1] for k in keys], "today": now.date(),
            "now": now})
        levels = {(row[0], row[1]): row for row in await cursor.fetchall()}
    if len(levels) != len(keys):
        return None  # a level that does not exist: the transactional path says what is wrong
    short = []
    for key in keys:
        _, _, on_hand, reserved, expired, safety, sweepable = levels[key]
        available = allocation.available(on_hand=on_hand, reserved=reserved, expired=expired, safety_stock=safety)
        if available >= merged[key]:
            continue
        if sweepable:
            return None  # the transactional path sweeps first and may then reserve
        short.append({"location_id": key[0], "sku": skus[key[1]], "requested": merged[key], "available": available})
    return InsufficientStock(short) if short else None


async def refuse(db: Database, refusal: DomainError, idempotency: dict[str, Any] | None) -> None:
    """Store the refusal as the first answer for the request's key (if it has one) and raise it; returns (without
    raising) when the key was stored before, for the transactional path to answer."""
    if idempotency is not None:
        async with db.async_statement_connection() as connection:
            cursor = await execute_prepared(connection, REMEMBER, {
                **idempotency, "status": refusal.status, "response": orjson.dumps(refusal.problem()).decode(),
                "now": utcnow()})
            if await cursor.fetchone() is None:
                return
    raise refusal
