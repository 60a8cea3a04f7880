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

from datetime import date, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import orjson

from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.outbox import event_id
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
    if db.dialect == "postgresql" and actor.can_access_location(line.location_id):
        # The statement names the location and SKU exactly as given: whatever it cannot match (an unknown or
        # differently spelt id, a gift with a minimum stock) reserves nothing and is decided below, as is a
        # location outside the key's scope (422 if it does not exist, else 403, as on every database).
        params = {"quantity": line.quantity, "now": now, "today": now.date(), "location_id": line.location_id,
                  "sku": line.sku, "respect_safety_stock": respect_safety_stock, "owner_type": owner_type,
                  "owner_id": owner_id, "reason": reason, "expires_at": expires_at, "actor": actor.name,
                  "event_id": event_id()}
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


# --- several lines and the rows of whatever they are reserved for, in one statement ----------------------

#: The level rows are locked in one fixed order (location, product) before any is changed, so two such
#: statements wanting the same rows queue instead of deadlocking; each guarded UPDATE then sees the row's
#: latest committed version. When any guard refuses, `omniretail_refuse` (migration 0006) aborts the
#: statement and PostgreSQL undoes all of it.
RESERVE_ALL = """
WITH want AS (
    SELECT * FROM unnest(%(location_ids)s::text[], %(product_ids)s::int[], %(quantities)s::int[])
        AS w(location_id, product_id, quantity)
), locked AS MATERIALIZED (
    SELECT s.location_id, s.product_id FROM stock_levels s
    JOIN want w ON w.location_id = s.location_id AND w.product_id = s.product_id
    ORDER BY s.location_id, s.product_id
    FOR UPDATE OF s
), level AS (
    UPDATE stock_levels s SET reserved = s.reserved + w.quantity, updated_at = %(now)s
    FROM want w, locked k
    WHERE s.location_id = w.location_id AND s.product_id = w.product_id
      AND k.location_id = s.location_id AND k.product_id = s.product_id
      AND s.on_hand - s.reserved - s.expired - CASE WHEN %(respect_safety_stock)s
            THEN COALESCE(s.safety_stock, (SELECT safety_stock FROM locations WHERE id = s.location_id), 0)
            ELSE 0 END >= w.quantity
      AND (s.next_expiry IS NULL OR s.next_expiry >= %(today)s)
    RETURNING 1
), load AS (
    INSERT INTO location_loads AS d (location_id, day, units)
    SELECT x.location_id, x.day, x.units
    FROM unnest(%(load_locations)s::text[], %(load_days)s::date[], %(load_units)s::int[]) AS x(location_id, day, units)
    JOIN locations l ON l.id = x.location_id
    WHERE l.daily_capacity = 0 OR x.units <= l.daily_capacity
    ON CONFLICT (location_id, day) DO UPDATE SET units = d.units + EXCLUDED.units
    WHERE (SELECT daily_capacity = 0 OR d.units + EXCLUDED.units <= daily_capacity FROM locations
           WHERE id = d.location_id)
    RETURNING 1
), verdict AS (
    SELECT count(*) = %(lines)s AND (SELECT count(*) FROM load) = %(load_lines)s AS whole FROM level
)"""
REFUSED = "omniretail refused: insufficient_stock"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=64)
def _reserve_all_statement(tables: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    inserts = []
    for n, (table, columns) in enumerate(tables):
        listed = ", ".join(_quote(c) for c in columns)
        inserts.append(f", t{n} AS (INSERT INTO {_quote(table)} ({listed}) SELECT {listed} "
                       f"FROM jsonb_populate_recordset(NULL::{_quote(table)}, %(t{n})s::jsonb) "
                       f"WHERE (SELECT whole FROM verdict))")
    return (RESERVE_ALL + "".join(inserts)
            + "\nSELECT CASE WHEN whole THEN true ELSE omniretail_refuse('insufficient_stock') END FROM verdict")


def reserve_all_statement(*, lines: list[tuple[str, int, int]],
                          rows: dict[str, list[dict[str, Any]]] | list[tuple[str, list[dict[str, Any]]]],
                          loads: dict[tuple[str, date], int] | None = None,
                          respect_safety_stock: bool = True) -> tuple[str, dict[str, Any]]:
    """PostgreSQL, to run in autocommit: the statement (and its parameters) that reserves every (location_id,
    product_id, quantity) and inserts `rows` (by table, or as (table, rows) pairs where a table may come more
    than once; the rows of one entry share their keys), and counts `loads` (units sent out per location and
    day, the location's own: `locations.capacity`), all or nothing. It fails with `refused(error)` true, having
    written nothing, when a line is short (or its level row is missing, or has expired lots not yet swept) or a
    location's day is full — the caller decides that case in a transaction."""
    merged: dict[tuple[str, int], int] = {}
    for location_id, product_id, quantity in lines:
        merged[(location_id, product_id)] = merged.get((location_id, product_id), 0) + quantity
    present = [(table, table_rows) for table, table_rows in (rows.items() if isinstance(rows, dict) else rows)
               if table_rows]
    statement = _reserve_all_statement(tuple((table, tuple(table_rows[0])) for table, table_rows in present))
    now, counted = utcnow(), sorted((loads or {}).items())
    params: dict[str, Any] = {
        "location_ids": [k[0] for k in merged], "product_ids": [k[1] for k in merged],
        "quantities": list(merged.values()), "lines": len(merged), "now": now, "today": now.date(),
        "respect_safety_stock": respect_safety_stock, "load_locations": [k[0] for k, _ in counted],
        "load_days": [k[1] for k, _ in counted], "load_units": [units for _, units in counted],
        "load_lines": len(counted)}
    for n, (_, table_rows) in enumerate(present):
        params[f"t{n}"] = orjson.dumps(table_rows).decode()
    return statement, params


def refused(error: Exception) -> bool:
    """Whether a failed `reserve_all_statement` was a guard refusing (rather than anything else)."""
    import psycopg

    return isinstance(error, psycopg.errors.RaiseException) and \
        str(error.diag.message_primary or "").startswith(REFUSED)
