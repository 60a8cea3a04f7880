"""Daily picking capacity of the locations that send deliveries (warehouses, ship-from-store stores).

A location's `daily_capacity` is the units it can send out for delivery in a day (0: no limit). Every unit a
delivery is sourced to is counted on that day's `location_loads` row when the order is placed, and sourcing
sees what is left (`left`), so a full store is passed over for the next best location and a store is never
promised more than it can pick. A day is the location's own calendar day in its `timezone` (a store in Los Angeles
starts a new day at midnight there, not at midnight UTC); a time zone this machine does not know counts UTC days.
Units that will not be sent from where they were counted after all — an order cancelled, units moved elsewhere by
a re-batch or after a short pick — are given back to the day they were counted on (`move`) while that is still
the location's today; a day gone by stays as it was. Pickups never count.

Both order paths count with a guard: the fast path's statement is refused if another order took the rest first
(the transactional path then decides the order again), and the transactional path raises `TryAgain` (its
transaction is run again and sources with what is left).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from omniretail.core.clock import as_utc, utcnow
from omniretail.core.db import dialect_insert
from omniretail.core.errors import TryAgain
from omniretail.locations.models import Location, LocationLoad

log = logging.getLogger("omniretail.locations.capacity")

#: What a location's day may be, against the UTC day: zones run from 12 hours behind UTC to 14 ahead.
DAYS_AROUND_UTC = 1


@lru_cache(maxsize=1024)
def zone(name: str | None) -> tzinfo:
    """A location's time zone; UTC for a name that is no IANA zone this machine knows (locations registered
    through the service never have one, rows written otherwise might), so sourcing goes on with UTC days."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            log.warning("location time zone %r is unknown: its capacity is counted by UTC days", name)
    return UTC


def day_at(timezone: str | None, at: datetime | None = None) -> date:
    """The calendar day at a location in `timezone` at the instant `at` (now): the day its units count on."""
    return as_utc(at or utcnow()).astimezone(zone(timezone)).date()


def today(timezone: str | None = None) -> date:
    """Today at a location in `timezone` (without one, the UTC day)."""
    return day_at(timezone)


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


def zones(session: Session, location_ids: Iterable[str]) -> dict[str, str]:
    """The time zone (name) of each location."""
    ids = sorted(set(location_ids))
    if not ids:
        return {}
    return {row.id: row.timezone for row in session.execute(select(Location.id, Location.timezone)
                                                            .where(Location.id.in_(ids)))}


def loads(session: Session, days: Mapping[str, date]) -> dict[str, int]:
    """Units already counted per location on its day (`days`: location id → day); a day nothing counted on is
    left out."""
    if not days:
        return {}
    rows = session.execute(select(LocationLoad.location_id, LocationLoad.day, LocationLoad.units).where(
        LocationLoad.location_id.in_(sorted(days)), LocationLoad.day.in_(sorted(set(days.values())))))
    return {row.location_id: row.units for row in rows if days[row.location_id] == row.day}


def counted_today(held: Iterable[Any], timezones: Mapping[str, str], at: datetime | None = None) -> dict[str, int]:
    """Of a delivery's reservations (`location_id`, `quantity`, `created_at`), the units per location counted on
    its today: units are counted on the location's day they are reserved, so those reserved on an earlier day
    count on a day gone by."""
    at = at or utcnow()
    units: dict[str, int] = {}
    for reservation in held:
        timezone = timezones.get(reservation.location_id)
        if day_at(timezone, reservation.created_at) == day_at(timezone, at):
            units[reservation.location_id] = units.get(reservation.location_id, 0) + reservation.quantity
    return units


def move(session: Session, *, away: Iterable[Any] = (), to: Mapping[str, int] | None = None) -> None:
    """Units of a delivery that change where they are sent from, in the caller's transaction: those of `away`
    (reservations no longer sent: `location_id`, `quantity`, `created_at`) are given back to the day they were
    counted on if it is still the location's today (a day gone by stays as it was), and `to` (units per location)
    are counted on each location's today. A cancelled order moves its units away only."""
    away, to, now = list(away), dict(to or {}), utcnow()
    timezones = zones(session, [r.location_id for r in away] + list(to))
    units = dict(to)
    for location_id, count in counted_today(away, timezones, now).items():
        units[location_id] = units.get(location_id, 0) - count
    units = {k: v for k, v in units.items() if v}
    take(session, units, {k: day_at(timezones.get(k), now) for k in units})


def take(session: Session, units: dict[str, int], day: date | Mapping[str, date] | None = None,
         limits: dict[str, int] | None = None) -> None:
    """Count units sent out from each location on `day` — one for all, or each location's own (location id →
    day); by default each location's today — in the caller's transaction; a negative count gives units back
    (an order moved elsewhere). A location with a limit in `limits` (its `daily_capacity`, as the order was
    sourced with) is counted only if the day still has room: if another order took it meanwhile, `TryAgain` —
    the caller's transaction is run again and sources the order with what is left."""
    if not units:
        return
    days, insert, limits = _days(session, units, day), dialect_insert(session), limits or {}
    limited = {k: v for k, v in units.items() if limits.get(k, 0) > 0 and v > 0}
    for location_id, count in sorted(limited.items()):
        statement = insert(LocationLoad).values(location_id=location_id, day=days[location_id], units=count)
        added = LocationLoad.units + statement.excluded.units
        statement = statement.on_conflict_do_update(index_elements=["location_id", "day"], set_={"units": added},
                                                    where=added <= limits[location_id])
        if count > limits[location_id] or session.execute(statement.returning(LocationLoad.units)).first() is None:
            raise TryAgain
    units = {k: v for k, v in units.items() if k not in limited}
    if not units:
        return
    # A count given back (negative: units moved away) never takes a day below nothing.
    statement = insert(LocationLoad).values([{"location_id": location_id, "day": days[location_id],
                                              "units": max(0, count)} for location_id, count in sorted(units.items())])
    added = LocationLoad.units + statement.excluded.units if all(c >= 0 for c in units.values()) else \
        LocationLoad.units + _given(units)
    session.execute(statement.on_conflict_do_update(
        index_elements=["location_id", "day"], set_={"units": case((added < 0, 0), else_=added)}))


def _days(session: Session, units: Mapping[str, int], day: date | Mapping[str, date] | None) -> dict[str, date]:
    if isinstance(day, date):
        return dict.fromkeys(units, day)
    days = {k: day[k] for k in units if k in day} if day is not None else {}
    missing = [k for k in units if k not in days]
    if missing:
        now, timezones = utcnow(), zones(session, missing)
        days.update({k: day_at(timezones.get(k), now) for k in missing})
    return days


def _given(units: dict[str, int]) -> Any:
    """Each location's own count (positive or negative), for an update that may take units away."""
    return case(*((LocationLoad.location_id == location_id, count) for location_id, count in units.items()),
                else_=0)
