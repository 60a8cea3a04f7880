"""Daily picking capacity of the locations that send deliveries (warehouses, ship-from-store stores).

A location's `daily_capacity` is the units it can send out for delivery in a day (0: no limit). Every unit a
delivery is sourced to is counted on that day's `location_loads` row when the order is placed, and sourcing
sees what is left (`left`), so a full store is passed over for the next best location and a store is never
promised more than it can pick. Days are UTC days. Both order paths count with a guard: the fast path's statement
is refused if another order took the rest first (the transactional path then decides the order again), and the
transactional path raises `TryAgain` (its transaction is run again and sources with what is left).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import case
from sqlalchemy.orm import Session

from omniretail.core.clock import utcnow
from omniretail.core.db import dialect_insert
from omniretail.core.errors import TryAgain
from omniretail.locations.models import LocationLoad


def today() -> date:
    return utcnow().date()


def left(daily_capacity: int | None, load: int | None) -> int | None:
    """Units a location may still be given today; None when it has no limit."""
    if not daily_capacity:
        return None
    return max(0, daily_capacity - (load or 0))


def units_by_location(lines: Iterable[Any]) -> dict[str, int]:
    """A delivery plan's units per location (lines with `location_id` and `quantity`)."""
    units: dict[str, int] = {}
    for line in lines:
        units[line.location_id] = units.get(line.location_id, 0) + line.quantity
    return units


def take(session: Session, units: dict[str, int], day: date | None = None,
         limits: dict[str, int] | None = None) -> None:
    """Count units sent out from each location on `day` (today), in the caller's transaction; a negative count
    gives units back (an order moved elsewhere). A location with a limit in `limits` (its `daily_capacity`, as
    the order was sourced with) is counted only if the day still has room: if another order took it meanwhile,
    `TryAgain` — the caller's transaction is run again and sources the order with what is left."""
    if not units:
        return
    insert, limits = dialect_insert(session), limits or {}
    limited = {k: v for k, v in units.items() if limits.get(k, 0) > 0 and v > 0}
    for location_id, count in sorted(limited.items()):
        statement = insert(LocationLoad).values(location_id=location_id, day=day or today(), units=count)
        added = LocationLoad.units + statement.excluded.units
        statement = statement.on_conflict_do_update(index_elements=["location_id", "day"], set_={"units": added},
                                                    where=added <= limits[location_id])
        if count > limits[location_id] or session.execute(statement.returning(LocationLoad.units)).first() is None:
            raise TryAgain
    units = {k: v for k, v in units.items() if k not in limited}
    if not units:
        return
    # A count given back (negative: units moved away) never takes a day below nothing.
    statement = insert(LocationLoad).values([{"location_id": location_id, "day": day or today(),
                                              "units": max(0, count)} for location_id, count in sorted(units.items())])
    added = LocationLoad.units + statement.excluded.units if all(c >= 0 for c in units.values()) else \
        LocationLoad.units + _given(units)
    session.execute(statement.on_conflict_do_update(
        index_elements=["location_id", "day"], set_={"units": case((added < 0, 0), else_=added)}))


def _given(units: dict[str, int]) -> Any:
    """Each location's own count (positive or negative), for an update that may take units away."""
    return case(*((LocationLoad.location_id == location_id, count) for location_id, count in units.items()),
                else_=0)

