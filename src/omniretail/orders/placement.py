"""How a new order is fulfilled: the checks on its fulfilment and payment, and where its units are reserved
(the pickup store, the till's store, or for a delivery the locations the sourcing engine chooses)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from omniretail.core.clock import utcnow
from omniretail.core.config import Settings, get_settings
from omniretail.core.errors import Forbidden, Invalid
from omniretail.core.security import Actor, Role
from omniretail.inventory import reservations
from omniretail.inventory.models import StockLevel
from omniretail.locations import capacity
from omniretail.locations.models import Location
from omniretail.locations.places import city_coordinates
from omniretail.locations.service import get_location
from omniretail.orders import routing
from omniretail.orders.errors import NetworkShort
from omniretail.orders.schemas import FulfilmentIn, PaymentIn
from omniretail.sourcing import service as sourcing


@dataclass(frozen=True)
class Fulfilment:
    type: str
    location: Any  # the Location (or a row with its id, name, pickup and active), None for a delivery
    address: dict[str, object] | None
    origin_location_id: str | None
    allow_transfer: bool = False  # a pickup the store cannot fill may wait for a transfer


#: Finds a location by id or raises `unknown_location` naming the field (`locations.service.get_location`).
Locate = Callable[[str, str], Any]


def locator(session: Session) -> Locate:
    return lambda location_id, field: get_location(session, location_id, field=field)


def fulfilment_of(locate: Locate, actor: Actor, fulfilment: FulfilmentIn, payment: PaymentIn,
                  origin_location_id: str | None) -> Fulfilment:
    """Check how the order is to be fulfilled and who may ask for it; `locate` finds the locations it names."""
    kind = fulfilment.type
    if payment.status == "cash_on_pickup" and kind != "pickup":
        raise Invalid("Cash on pickup is only for pickup orders", field="payment.status", code="invalid_payment")
    if origin_location_id is None and actor.role is Role.ASSOCIATE and len(actor.location_ids) == 1:
        origin_location_id = next(iter(actor.location_ids))
    if origin_location_id is not None:
        origin = locate(origin_location_id, "origin_location_id")
        actor.require_location(origin.id)
        origin_location_id = origin.id
    if kind == "delivery":
        if fulfilment.address is None:
            raise Invalid("A delivery needs an address", field="fulfilment.address", code="address_required")
        return Fulfilment(kind, None, _address(fulfilment), origin_location_id)
    if fulfilment.location_id is None:
        raise Invalid(f"A {kind.replace('_', '-')} order names its store", field="fulfilment.location_id",
                      code="location_required")
    location = locate(fulfilment.location_id, "fulfilment.location_id")
    if kind == "pickup" and not (location.pickup and location.active):
        raise Invalid(f"{location.name} ({location.id}) offers no pickup", field="fulfilment.location_id",
                      code="pickup_not_offered")
    if kind == "in_store":
        if actor.role in (Role.CUSTOMER, Role.AGENT):
            raise Forbidden("A sale at the till is recorded by the store's staff", code="role_forbidden")
        if not location.active:
            raise Invalid(f"{location.id} is closed for good", field="fulfilment.location_id",
                          code="location_inactive")
        if payment.status != "captured":
            raise Invalid("A sale handed over at the till was paid: payment status is captured",
                          field="payment.status", code="payment_not_captured")
        actor.require_location(location.id)
        origin_location_id = origin_location_id or location.id
    return Fulfilment(kind, location, None, origin_location_id, kind == "pickup" and fulfilment.allow_transfer)


def _address(fulfilment: FulfilmentIn) -> dict[str, object]:
    assert fulfilment.address is not None
    fields: dict[str, object] = {}
    for name, value in fulfilment.address.model_dump().items():
        if isinstance(value, str):
            value = " ".join(value.split()) or None
        if value is not None:
            fields[name] = value
    if isinstance(fields.get("country"), str):
        fields["country"] = str(fields["country"]).upper()
    return fields


class Candidate(NamedTuple):
    """A level a delivery may be sent from, with its location's limit and what it counted on its day so far."""

    location_id: str
    product_id: int
    on_hand: int
    reserved: int
    expired: int
    safety_stock: int | None
    default_safety: int
    type: str
    lat: float
    lon: float
    daily_capacity: int
    timezone: str
    load: int  # units counted on `day` (0 where there is no limit: nothing to hold them against)
    day: date  # the location's day at the instant read (`locations.capacity`)


def candidate_rows(session: Session, product_ids: Iterable[int], *, transfers: bool = False,
                   include_empty: bool = False, at: datetime | None = None) -> list[Candidate]:
    """The levels a delivery may be sent from: active warehouses and ship-from-store stores holding some of the
    products, each with its location's `daily_capacity` and the `load` counted on its own day at `at` (now);
    with `transfers`, every active location (what may be transferred to a pickup store); with `include_empty`,
    also levels whose units are all reserved (a re-sourcing adds its own back)."""
    sends = or_(Location.type == "warehouse", and_(Location.type == "store", Location.ship_from_store))
    rows = session.execute(
        select(StockLevel.location_id, StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved,
               StockLevel.expired, StockLevel.safety_stock, Location.safety_stock.label("default_safety"),
               Location.type, Location.lat, Location.lon, Location.daily_capacity, Location.timezone)
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.product_id.in_(list(product_ids)), Location.active, True if transfers else sends,
               StockLevel.on_hand > (StockLevel.expired if include_empty else StockLevel.reserved + StockLevel.expired))
    ).all()
    at = at or utcnow()
    days = {row.location_id: capacity.day_at(row.timezone, at) for row in rows}
    # Each location's day is its own, so the loads are read apart (only of locations with a limit, if any).
    counted = capacity.loads(session, {row.location_id: days[row.location_id] for row in rows if row.daily_capacity})
    return [Candidate(*row, load=counted.get(row.location_id, 0), day=days[row.location_id]) for row in rows]


@dataclass(frozen=True)
class Plan:
    lines: list[reservations.Line]
    decision: Any = None  # the sourcing decision of a delivery sourced by cost


def _pickup_with_transfers(how: Fulfilment, demand: dict[str, int], product_ids: dict[str, int], rows: list[Any],
                           channel: str, settings: Settings, prices: Any) -> Plan:
    """A pickup the store cannot fill from its own shelves: what it has is reserved there, the rest where the
    sourcing engine finds it nearest the store, to be transferred there before the pickup is ready."""
    store = how.location
    skus = {pid: sku for sku, pid in product_ids.items()}
    here = {skus[r.product_id]: sourcing.promisable(r) for r in rows if r.location_id == store.id}
    lines = [reservations.Line(store.id, sku, min(units, here.get(sku, 0))) for sku, units in demand.items()
             if here.get(sku, 0) > 0]
    missing = {sku: units - here.get(sku, 0) for sku, units in demand.items() if units > here.get(sku, 0)}
    if not missing:
        return Plan(lines)
    elsewhere = [r for r in rows if r.location_id != store.id]
    decision = sourcing.source_delivery(demand=missing, product_ids=product_ids, candidates=elsewhere,
                                        lat=float(store.lat), lon=float(store.lon), channel=channel,
                                        settings=settings, prices=prices)
    if decision.unfilled:
        network = sourcing.network_of(rows, skus)
        raise NetworkShort([{"sku": sku, "requested": demand[sku], "available": network.sendable(sku)}
                            for sku in demand if decision.unfilled.get(sku)])
    return Plan(lines + [reservations.Line(p.location_id, p.sku, p.quantity) for p in decision.picks], decision)


def destination(address: dict[str, Any]) -> tuple[float, float] | None:
    """Where a delivery goes: the address's coordinates, else its city's."""
    lat, lon = address.get("lat"), address.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return float(lat), float(lon)
    city = address.get("city")
    country = address.get("country")
    return city_coordinates(city, country if isinstance(country, str) else None) if isinstance(city, str) else None


def plan(how: Fulfilment, demand: dict[str, int], product_ids: dict[str, int], candidates: Iterable[Any] = (), *,
         channel: str = "web", settings: Settings | None = None, prices: Any = None) -> Plan:
    """Where each SKU of `demand` is reserved: the order's store; for a delivery, where the sourcing engine
    (the channel's policy) sends it from, among `candidates` (rows as `candidate_rows` reads them); an address
    nobody can place on a map falls back to `routing`'s rule. `prices` (`sourcing.live.LivePrices`) guide the
    default policy."""
    rows = list(candidates)
    if how.location is not None:
        if how.type == "pickup" and how.allow_transfer and rows:
            return _pickup_with_transfers(how, demand, product_ids, rows, channel, settings or get_settings(), prices)
        return Plan([reservations.Line(how.location.id, sku, quantity) for sku, quantity in demand.items()])
    point = destination(how.address or {})
    if point is not None:
        decision = sourcing.source_delivery(demand=demand, product_ids=product_ids, candidates=rows, lat=point[0],
                                            lon=point[1], channel=channel, settings=settings or get_settings(),
                                            prices=prices)
        if decision.unfilled:
            skus = {pid: sku for sku, pid in product_ids.items()}
            network = sourcing.network_of(rows, skus)
            raise NetworkShort([{"sku": sku, "requested": demand[sku], "available": network.sendable(sku)}
                                for sku in demand if decision.unfilled.get(sku)])
        return Plan([reservations.Line(p.location_id, p.sku, p.quantity) for p in decision.picks], decision)
    skus = {pid: sku for sku, pid in product_ids.items()}
    found_at: dict[str, routing.Candidate] = {}
    for row in rows:
        found = found_at.get(row.location_id)
        if found is None:
            found = found_at[row.location_id] = routing.Candidate(row.location_id, None,
                                                                  0 if row.type == "warehouse" else 1, {})
        found.available[skus[row.product_id]] = sourcing.promisable(row)
    chosen = routing.plan_delivery(demand, list(found_at.values()))
    if chosen.short:
        raise NetworkShort(chosen.short)
    return Plan([reservations.Line(location_id, sku, quantity) for location_id, sku, quantity in chosen.lines])
