"""One reservation line in one statement on PostgreSQL.

The guarded UPDATE of the level row, the reservation row and its `stock.reserved` outbox event
are one data-modifying statement run outside an explicit transaction: PostgreSQL applies a
statement atomically, the inserts take their rows from the UPDATE's RETURNING, so when the
guard refuses, nothing at all is written. The product is found by its SKU inside the same
statement, so a reservation costs one round trip (instead of five: BEGIN, three statements, COMMIT)
and no look-up of its own, whatever the number of SKUs in play. Anything the statement cannot
decide alone — a gift with a minimum stock, expired lots not yet swept, a refusal that must name
what is available — goes through `reservations.reserve` in a transaction, as every reservation
on SQLite does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace

from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.security import Actor
from omniretail.inventory import reservations
from omniretail.inventory.models import Reservation
from omniretail.inventory.reservations import Line
from omniretail.inventory.service import check_positive

RESERVE_ONE = """
WITH product AS (
    SELECT id, sku FROM products
    WHERE sku = %(sku)s AND NOT (is_gift AND gift_min_stock IS NOT NULL)
), level AS (
    UPDATE stock_levels SET reserved = reserved + %(quantity)s, updated_at = %(now)s
    FROM product
    WHERE stock_levels.location_id = %(location_id)s AND stock_levels.product_id = product.id
      AND on_hand - reserved - expired - CASE WHEN %(respect_safety_stock)s
            THEN COALESCE(safety_stock, (SELECT safety_stock FROM locations WHERE id = %(location_id)s), 0)
            ELSE 0 END >= %(quantity)s
      AND (next_expiry IS NULL OR next_expiry >= %(today)s)
    RETURNING stock_levels.location_id, stock_levels.product_id, product.sku
), made AS (
    INSERT INTO reservations (location_id, product_id, quantity, status, owner_type, owner_id, reason, expires_at,
                              created_at, updated_at, actor)
    SELECT location_id, product_id, %(quantity)s, 'active', %(owner_type)s, %(owner_id)s, %(reason)s,
           %(expires_at)s, %(now)s, %(now)s, %(actor)s FROM level
    RETURNING id, location_id, product_id, quantity, status, owner_type, owner_id, reason, expires_at, created_at,
              updated_at, actor
), event AS (
    INSERT INTO outbox_events (id, type, object_type, object_id, occurred_at, data)
    SELECT %(event_id)s, 'stock.reserved', 'reservation', made.id::text, %(now)s,
           jsonb_build_object('reservation_id', made.id, 'location_id', made.location_id, 'sku', level.sku,
                              'quantity', made.quantity, 'owner_type', made.owner_type, 'owner_id', made.owner_id,
                              'status', made.status)
    FROM made JOIN level ON level.product_id = made.product_id
)
SELECT id, location_id, product_id, quantity, status, owner_type, owner_id, reason, expires_at, created_at,
       updated_at, actor FROM made
"""
COLUMNS = ("id", "location_id", "product_id", "quantity", "status", "owner_type", "owner_id", "reason", "expires_at",
           "created_at", "updated_at", "actor")


def reserve_line(db: Database, *, actor: Actor, line: Line, owner_type: str, owner_id: str,
                 reason: str | None = None, expires_at: datetime | None = None,
                 respect_safety_stock: bool = True) -> list[Reservation] | list[SimpleNamespace]:
    """Reserve one line (409 `insufficient_stock` when short), in a single statement where the database allows."""
    now = utcnow()
    reservations.check_request([line], owner_type, expires_at, now)
    check_positive(line.quantity, "lines.0.quantity")
    if db.dialect == "postgresql":
        # The statement names the location and SKU exactly as given: whatever it cannot match (an unknown or
        # differently spelt id, a gift with a minimum stock) reserves nothing and is decided below.
        actor.require_location(line.location_id)
        params = {"quantity": line.quantity, "now": now, "today": now.date(), "location_id": line.location_id,
                  "sku": line.sku, "respect_safety_stock": respect_safety_stock, "owner_type": owner_type,
                  "owner_id": owner_id, "reason": reason, "expires_at": expires_at, "actor": actor.name,
                  "event_id": str(uuid.uuid4())}
        with db.statement_connection() as connection:
            row = connection.execute(RESERVE_ONE, params, prepare=True).fetchone()
        if row is not None:
            # The row as plain attributes: building an ORM object would cost more than the statement's
            # Python side (nothing here is tracked by a session anyway).
            return [SimpleNamespace(**dict(zip(COLUMNS, row, strict=True)))]
    with db.write() as session:
        return reservations.reserve(session, actor=actor, lines=[line], owner_type=owner_type, owner_id=owner_id,
                                    reason=reason, expires_at=expires_at,
                                    respect_safety_stock=respect_safety_stock)
