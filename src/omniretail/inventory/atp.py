"""Available-to-promise: per location, near a point, network-wide; and one level in detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from omniretail.catalog.service import get_product
from omniretail.core.clock import utcnow
from omniretail.inventory import allocation
from omniretail.inventory.levels import safety_stock_of
from omniretail.inventory.models import StockLevel, StockLot
from omniretail.locations import geo, hours
from omniretail.locations.models import Location
from omniretail.locations.service import get_location


@dataclass(frozen=True)
class LocationAvailability:
    location: Location
    on_hand: int
    reserved: int
    available: int
    distance_km: float | None
    pickup_today: bool
    running_out: bool = False


def _unmarked_expired(session: Session, product_id: int, location_ids: list[str], today: date) -> dict[str, int]:
    """Units in lots past their expiry date that the sweep has not marked yet, per location."""
    if not location_ids:
        return {}
    rows = session.execute(select(StockLot.location_id, func.sum(StockLot.quantity)).where(
        StockLot.product_id == product_id, StockLot.location_id.in_(location_ids), StockLot.expired.is_(False),
        StockLot.expiry_date < today).group_by(StockLot.location_id))
    return {loc: int(qty or 0) for loc, qty in rows}


def can_pick_up_today(location: Location, available: int, now: datetime) -> bool:
    return location.pickup and available > 0 and \
        hours.closes_today_after(location.opening_hours, location.timezone, now) is not None


def availability(session: Session, *, sku: str, location_id: str | None = None, lat: float | None = None,
                 lon: float | None = None, radius_km: float | None = None) -> list[LocationAvailability]:
    """Units that can be promised online per location (safety stock, reservations and expired lots deducted)."""
    product = get_product(session, sku)
    query = (select(StockLevel, Location).join(Location, Location.id == StockLevel.location_id)
             .where(StockLevel.product_id == product.id, Location.active))
    if location_id is not None:
        get_location(session, location_id)
        query = query.where(StockLevel.location_id == location_id)
    if lat is not None and lon is not None and radius_km is not None:
        min_lat, max_lat, lon_ranges = geo.bounding_box(lat, lon, radius_km)
        query = query.where(Location.lat.between(min_lat, max_lat),
                            or_(*(Location.lon.between(low, high) for low, high in lon_ranges)))
    now = utcnow()
    today = now.date()
    rows = session.execute(query).all()
    stale = [level.location_id for level, _ in rows if level.next_expiry is not None and level.next_expiry < today]
    unmarked = _unmarked_expired(session, product.id, stale, today)
    result = []
    for level, location in rows:
        distance = None
        if lat is not None and lon is not None:
            distance = geo.haversine_km(lat, lon, location.lat, location.lon)
            if radius_km is not None and distance > radius_km:
                continue
        safety = safety_stock_of(level, location)
        available = allocation.available(on_hand=level.on_hand, reserved=level.reserved,
                                         expired=level.expired + unmarked.get(level.location_id, 0),
                                         safety_stock=safety)
        running_out = product.is_gift and product.gift_min_stock is not None and available <= product.gift_min_stock
        if running_out and product.gift_low_policy == "hide":
            continue
        result.append(LocationAvailability(location, level.on_hand, level.reserved, available, distance,
                                           can_pick_up_today(location, available, now), running_out))
    if lat is not None:
        result.sort(key=lambda a: (a.distance_km, a.location.id))
    else:
        result.sort(key=lambda a: a.location.id)
    return result


@dataclass(frozen=True)
class LevelDetail:
    location_id: str
    sku: str
    on_hand: int
    reserved: int
    expired: int
    inbound: int
    safety_stock: int
    available: int
    lots: list[tuple[StockLot, bool]]


def level_detail(session: Session, *, location_id: str, sku: str) -> LevelDetail:
    """One SKU at one location with its lots, soonest expiry first."""
    location = get_location(session, location_id)
    product = get_product(session, sku)
    level = session.get(StockLevel, (location.id, product.id))
    today = utcnow().date()
    lots = list(session.scalars(select(StockLot).where(StockLot.location_id == location.id,
                                                       StockLot.product_id == product.id, StockLot.quantity > 0)))
    lots.sort(key=lambda lot: allocation.fefo_key(allocation.LotView(lot.id, lot.lot_code, lot.quantity,
                                                                      lot.expiry_date, lot.expired)))
    flagged = [(lot, lot.expired or allocation.is_expired(lot.expiry_date, today)) for lot in lots]
    if level is None:
        return LevelDetail(location.id, sku, 0, 0, 0, 0, location.safety_stock, 0, [])
    safety = safety_stock_of(level, location)
    expired = sum(lot.quantity for lot, dead in flagged if dead)
    return LevelDetail(location.id, sku, level.on_hand, level.reserved, expired, level.inbound, safety,
                       allocation.available(on_hand=level.on_hand, reserved=level.reserved, expired=expired,
                                            safety_stock=safety), flagged)
