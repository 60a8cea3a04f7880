"""What sourcing decides about: orders, locations with their stock and capacity, transfer lanes. Pure module.

A `Network` is the state sourcing reads (units available per location and SKU after safety stock, remaining
capacity, lots) and the state a sequence of decisions consumes (`Network.consume`). Capacity is counted in
units: the units a location can still pick today (not packages), because picking labour scales with units.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import asin, cos, radians, sin, sqrt
from typing import Protocol

from omniretail.locations.geo import EARTH_RADIUS_KM

LOCATION_KINDS = ("store", "warehouse", "hub")


@dataclass(frozen=True)
class Lot:
    """Units of one SKU sharing an expiry: `expires_in_days` from today, None for goods that do not expire."""

    quantity: int
    expires_in_days: int | None = None


@dataclass
class Location:
    """A place that holds stock and can fulfil: a store, a warehouse or a hub.

    `stock` is what may still be promised per SKU (after safety stock and reservations); `capacity` is the
    number of units it can still pick today (None: no limit); `ships` says whether it sends parcels to
    customers (a store without ship-from-store still serves pickups and can transfer on its lanes); `lots`
    optionally splits a SKU's units by expiry (units not covered by a lot count as not expiring).
    """

    id: str
    lat: float
    lon: float
    stock: dict[str, int] = field(default_factory=dict)
    capacity: int | None = None
    kind: str = "warehouse"
    ships: bool = True
    lots: dict[str, tuple[Lot, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in LOCATION_KINDS:
            raise ValueError(f"location {self.id}: kind must be one of {', '.join(LOCATION_KINDS)}")
        if self.capacity is not None and self.capacity < 0:
            raise ValueError(f"location {self.id}: capacity must not be negative")
        for sku, quantity in self.stock.items():
            if quantity < 0:
                raise ValueError(f"location {self.id}: stock of {sku} must not be negative")


@dataclass(frozen=True)
class Lane:
    """A transfer route: units move from `origin` to `destination` in `delay_days` at a cost per unit
    (None: the cost model's `transfer_per_unit`). The destination then ships them or hands them over."""

    origin: str
    destination: str
    cost_per_unit: float | None = None
    delay_days: int = 1


@dataclass(frozen=True)
class Order:
    """What a customer asked for: units per SKU, delivered to (lat, lon) or collected at a pickup location."""

    id: str
    lines: Mapping[str, int]
    lat: float | None = None
    lon: float | None = None
    pickup_location_id: str | None = None

    def __post_init__(self) -> None:
        for sku, quantity in self.lines.items():
            if not isinstance(quantity, int) or quantity <= 0:
                raise ValueError(f"order {self.id}: quantity of {sku} must be a positive integer")
        if self.pickup_location_id is None and (self.lat is None or self.lon is None):
            raise ValueError(f"order {self.id}: needs a destination (lat and lon) or a pickup location")

    @classmethod
    def of(cls, id: str, lines: Iterable[tuple[str, int]], *, lat: float | None = None, lon: float | None = None,
           pickup_location_id: str | None = None) -> Order:
        """An order from (sku, quantity) lines; repeated SKUs are added up."""
        merged: dict[str, int] = {}
        for sku, quantity in lines:
            merged[sku] = merged.get(sku, 0) + quantity
        return cls(id=id, lines=merged, lat=lat, lon=lon, pickup_location_id=pickup_location_id)

    @property
    def units(self) -> int:
        return sum(self.lines.values())


class Pick(Protocol):
    """Units taken at one location (what `Network.consume` needs from a decision)."""

    location_id: str
    sku: str
    quantity: int


class Network:
    """Locations and lanes plus the state sourcing reads and consumes.

    The attributes below are the engine's working state, indexed by location position; read them, and
    change them only through `consume`.
    """

    def __init__(self, locations: Iterable[Location], lanes: Iterable[Lane] = ()) -> None:
        self.locations: tuple[Location, ...] = tuple(locations)
        self.index: dict[str, int] = {}
        for i, location in enumerate(self.locations):
            if location.id in self.index:
                raise ValueError(f"location {location.id} appears twice")
            self.index[location.id] = i
        self.stock: list[dict[str, int]] = [{s: q for s, q in loc.stock.items() if q > 0} for loc in self.locations]
        self.capacity: list[int | None] = [loc.capacity for loc in self.locations]
        self.ships: list[bool] = [loc.ships for loc in self.locations]
        self._lat = [radians(loc.lat) for loc in self.locations]
        self._lon = [radians(loc.lon) for loc in self.locations]
        self._cos_lat = [cos(lat) for lat in self._lat]
        self.known_skus: set[str] = set()
        for loc in self.locations:
            self.known_skus.update(loc.stock)
        self.lots: list[dict[str, list[list[int]]]] = [_fefo_lots(loc, self.stock[i])
                                                       for i, loc in enumerate(self.locations)]
        self.holders: dict[str, set[int]] = {}
        for i, stock in enumerate(self.stock):
            for sku in stock:
                self.holders.setdefault(sku, set()).add(i)
        self.lanes: tuple[Lane, ...] = tuple(lanes)
        self.incoming: list[list[tuple[int, float | None, int]]] = [[] for _ in self.locations]
        for lane in self.lanes:
            if lane.origin not in self.index or lane.destination not in self.index:
                raise ValueError(f"lane {lane.origin}->{lane.destination} names an unknown location")
            if lane.origin == lane.destination or lane.delay_days < 0:
                raise ValueError(f"lane {lane.origin}->{lane.destination} must join two places, delay >= 0")
            self.incoming[self.index[lane.destination]].append(
                (self.index[lane.origin], lane.cost_per_unit, lane.delay_days))

    def available(self, location_id: str, sku: str) -> int:
        return self.stock[self.index[location_id]].get(sku, 0)

    def capacity_left(self, location_id: str) -> int | None:
        return self.capacity[self.index[location_id]]

    def distances_km(self, lat: float, lon: float, positions: Iterable[int]) -> dict[int, float]:
        """Haversine distance from (lat, lon) to the locations at `positions` (as `locations.geo.haversine_km`)."""
        p1, l1 = radians(lat), radians(lon)
        c1 = cos(p1)
        result = {}
        for i in positions:
            a = sin((self._lat[i] - p1) / 2) ** 2 + c1 * self._cos_lat[i] * sin((self._lon[i] - l1) / 2) ** 2
            result[i] = 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))
        return result

    def total_available(self, sku: str) -> int:
        return sum(self.stock[i][sku] for i in self.holders.get(sku, ()))

    def sendable(self, sku: str) -> int:
        """Units of `sku` the network can still send: each holder's stock, at most its picking capacity left."""
        total = 0
        for i in self.holders.get(sku, ()):
            left = self.capacity[i]
            total += self.stock[i][sku] if left is None else min(self.stock[i][sku], left)
        return total

    def copy(self) -> Network:
        """An independent copy of the state (the locations themselves are shared, never changed)."""
        twin = _copy.copy(self)
        twin.stock = [dict(s) for s in self.stock]
        twin.capacity = list(self.capacity)
        twin.lots = [{sku: [list(lot) for lot in lots] for sku, lots in by_sku.items()} for by_sku in self.lots]
        twin.holders = {sku: set(at) for sku, at in self.holders.items()}
        return twin

    def consume(self, picks: Iterable[Pick]) -> None:
        """Take picked units out of stock (lots first-expired-first-out) and out of the locations' capacity."""
        picks = list(picks)
        for pick in picks:  # check everything first, so a decision that does not fit changes nothing
            i = self.index[pick.location_id]
            if self.stock[i].get(pick.sku, 0) < pick.quantity:
                raise ValueError(f"{pick.location_id} has fewer than {pick.quantity} of {pick.sku}")
        needed: dict[int, int] = {}
        for pick in picks:
            needed[self.index[pick.location_id]] = needed.get(self.index[pick.location_id], 0) + pick.quantity
        for i, units in needed.items():
            left = self.capacity[i]
            if left is not None and left < units:
                raise ValueError(f"{self.locations[i].id} can pick only {left} more units today")
        for pick in picks:
            i = self.index[pick.location_id]
            remaining = self.stock[i][pick.sku] - pick.quantity
            if remaining:
                self.stock[i][pick.sku] = remaining
            else:
                del self.stock[i][pick.sku]
                self.holders[pick.sku].discard(i)
            left = self.capacity[i]
            if left is not None:
                self.capacity[i] = left - pick.quantity
            lots = self.lots[i].get(pick.sku)
            if lots:
                take_fefo(lots, pick.quantity)
                if not lots:
                    del self.lots[i][pick.sku]


def take_fefo(lots: list[list[int]], quantity: int) -> list[tuple[int, int]]:
    """Remove `quantity` units from [units, days] lots in order; returns (units, days) taken per lot."""
    taken: list[tuple[int, int]] = []
    while quantity and lots:
        units, days = lots[0]
        take = min(units, quantity)
        taken.append((take, days))
        quantity -= take
        if take == units:
            lots.pop(0)
        else:
            lots[0][0] = units - take
    return taken


# Units with no expiry are stored with this many days so that one sort puts them last.
NO_EXPIRY = 1 << 30


def _fefo_lots(location: Location, available: Mapping[str, int]) -> dict[str, list[list[int]]]:
    """Per SKU the available units as [units, days to expiry] in picking order; only SKUs with a dated lot.

    Lots may hold more than is available (safety stock, reservations): the units that may be promised are the
    ones picked first, so the latest-expiring units are the ones held back.
    """
    result: dict[str, list[list[int]]] = {}
    for sku, lots in location.lots.items():
        if not any(lot.expires_in_days is not None for lot in lots):
            continue
        ordered = sorted(([lot.quantity, NO_EXPIRY if lot.expires_in_days is None else lot.expires_in_days]
                          for lot in lots if lot.quantity > 0), key=lambda lot: lot[1])
        left = available.get(sku, 0)
        kept: list[list[int]] = []
        for units, days in ordered:
            if left == 0:
                break
            kept.append([min(units, left), days])
            left -= kept[-1][0]
        if left:
            kept.append([left, NO_EXPIRY])
        if kept:
            result[sku] = kept
    return result
