"""Reservations that never oversell: reserve all lines or none, release, consume first-expired-first-out.

A line is reserved by one guarded UPDATE of its level row (the availability test and the
increment in a single statement); lines are taken in (location, product) order so two
multi-line reservations cannot deadlock. If the guard fails because a lot has passed its
expiry date or a cart hold has run out without being swept yet, that level is swept and the
line is tried once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.catalog.service import get_product
from omniretail.core.cache import TTLCache
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Invalid, NotFound
from omniretail.core.models import OutboxEvent
from omniretail.core.outbox import Event, emit, event_row
from omniretail.core.security import Actor
from omniretail.inventory import allocation
from omniretail.inventory.errors import InsufficientStock
from omniretail.inventory.levels import (
    add_reserved,
    lock_level,
    lots_of,
    mark_expired_lots,
    refresh_next_expiry,
    safety_stock_of,
    sku_of,
    view,
)
from omniretail.inventory.models import Reservation, StockLevel, StockLot
from omniretail.inventory.service import Cause, check_positive, ledger, stock_changed, watch_gift
from omniretail.locations.models import Location
from omniretail.locations.service import get_location

OWNER_TYPES = ("order", "cart", "transfer", "pos", "manual")


@dataclass(frozen=True)
class Line:
    location_id: str
    sku: str
    quantity: int


def check_request(lines: list[Line], owner_type: str, expires_at: datetime | None, now: datetime) -> None:
    """Refuse a reservation request that could never be right (422), before anything is looked up."""
    if owner_type not in OWNER_TYPES:
        raise Invalid(f"owner_type is one of {', '.join(OWNER_TYPES)}", field="owner_type", code="invalid_owner")
    if not lines:
        raise Invalid("Reserve at least one line", field="lines", code="empty_reservation")
    if expires_at is not None and expires_at <= now:
        raise Invalid("expires_at is in the past", field="expires_at", code="invalid_expiry")


def reserve(session: Session, *, actor: Actor, lines: list[Line], owner_type: str, owner_id: str,
            reason: str | None = None, expires_at: datetime | None = None,
            respect_safety_stock: bool = True) -> list[Any]:
    """Reserve every line, or nothing (409 `insufficient_stock` naming the short lines); returns the rows made."""
    now = utcnow()
    check_request(lines, owner_type, expires_at, now)
    resolved: list[tuple[Line, str, ProductRef]] = []
    for i, line in enumerate(lines):
        check_positive(line.quantity, f"lines.{i}.quantity")
    _look_up_references(session, lines)
    for i, line in enumerate(lines):
        location_id, product = references(session, line, i)
        actor.require_location(location_id)
        resolved.append((line, location_id, product))
    merged: dict[tuple[str, int], int] = {}
    for line, location_id, product in resolved:
        merged[(location_id, product.id)] = merged.get((location_id, product.id), 0) + line.quantity
    skus = {product.id: product.sku for _, _, product in resolved}
    # Write the reservations first and take the level rows last, so a hot SKU's row stays locked only
    # from its guarded UPDATE to the commit.
    # Core statements, not ORM objects: this is the hottest write path of the platform.
    table = Reservation.__table__
    created = list(session.execute(insert(table).returning(*table.c, sort_by_parameter_order=True), [
        {"location_id": location_id, "product_id": product.id, "quantity": line.quantity, "status": "active",
         "owner_type": owner_type, "owner_id": owner_id, "reason": reason, "expires_at": expires_at,
         "created_at": now, "updated_at": now, "actor": actor.name} for line, location_id, product in resolved]))
    session.execute(insert(OutboxEvent.__table__), [
        event_row(reservation_event("stock.reserved", r, skus[r.product_id]), occurred_at=now) for r in created])
    today = now.date()
    short = []
    for location_id, product_id in sorted(merged):
        quantity = merged[(location_id, product_id)]
        if add_reserved(session, location_id, product_id, quantity, today=today,
                        respect_safety_stock=respect_safety_stock):
            continue
        level = lock_level(session, location_id, product_id)
        _sweep_level(session, actor, level, skus[product_id], now)
        if add_reserved(session, location_id, product_id, quantity, today=today,
                        respect_safety_stock=respect_safety_stock):
            continue
        short.append({"location_id": location_id, "sku": skus[product_id], "requested": quantity,
                      "available": available_now(session, level, respect_safety_stock)})
    if short:
        raise InsufficientStock(short)
    for (location_id, product_id), _ in sorted(merged.items()):
        product = next(p for _, _, p in resolved if p.id == product_id)
        if product.is_gift and product.gift_min_stock is not None:
            watch_gift(session, lock_level(session, location_id, product_id), product)
    return created


@dataclass(frozen=True)
class ProductRef:
    id: int
    sku: str
    is_gift: bool
    gift_min_stock: int | None
    gift_low_policy: str


#: Locations and products named by reservations, remembered a few seconds (they rarely change; gift
#: thresholds edited elsewhere apply within REFERENCE_SECONDS).
REFERENCE_SECONDS = 5.0
references_seen: TTLCache[object] = TTLCache(REFERENCE_SECONDS)


def _look_up_references(session: Session, lines: list[Line]) -> None:
    """Remember the locations and products of all lines not remembered yet, in one statement each (instead of
    one per line); what does not exist is left for `references` to refuse, naming its line."""
    database = str(session.get_bind().engine.url)
    skus = sorted({line.sku for line in lines if references_seen.get((database, "sku", line.sku)) is None})
    if skus:
        for row in session.execute(select(Product.id, Product.sku, Product.is_gift, Product.gift_min_stock,
                                          Product.gift_low_policy).where(Product.sku.in_(skus))):
            references_seen.put((database, "sku", row.sku), ProductRef(*row))
    places = sorted({line.location_id for line in lines
                     if references_seen.get((database, "location", line.location_id)) is None})
    if places:
        for location_id in session.scalars(select(Location.id).where(Location.id.in_(places))):
            references_seen.put((database, "location", location_id), location_id)


def references(session: Session, line: Line, i: int) -> tuple[str, ProductRef]:
    database = str(session.get_bind().engine.url)
    location_id = references_seen.get((database, "location", line.location_id))
    if location_id is None:
        location_id = get_location(session, line.location_id, field=f"lines.{i}.location_id").id
        references_seen.put((database, "location", line.location_id), location_id)
    product = references_seen.get((database, "sku", line.sku))
    if product is None:
        found = get_product(session, line.sku, field=f"lines.{i}.sku")
        product = ProductRef(found.id, found.sku, found.is_gift, found.gift_min_stock, found.gift_low_policy)
        references_seen.put((database, "sku", line.sku), product)
    return str(location_id), product  # type: ignore[return-value]


def available_now(session: Session, level: StockLevel, respect_safety_stock: bool = True) -> int:
    session.refresh(level)
    safety = safety_stock_of(level, session.get(Location, level.location_id)) if respect_safety_stock else 0
    return allocation.available(on_hand=level.on_hand, reserved=level.reserved, expired=level.expired,
                                safety_stock=safety)


def _sweep_level(session: Session, actor: Actor, level: StockLevel, sku: str, now: datetime) -> int:
    """Mark expired lots and release run-out holds of one level (the guard's second chance)."""
    if level.next_expiry is not None and level.next_expiry < now.date():
        mark_expired_lots(session, level, now.date())
        stock_changed(session, level, sku, "expired")
    holds = session.scalars(select(Reservation).where(
        Reservation.location_id == level.location_id, Reservation.product_id == level.product_id,
        Reservation.status == "active", Reservation.expires_at < now)).all()
    for hold in holds:
        _finish(session, hold, "expired", now)
        level.reserved -= hold.quantity
        _event(session, "stock.released", hold, sku)
    session.flush()
    return len(holds)


def _finish(session: Session, reservation: Reservation, status: str, now: datetime) -> None:
    reservation.status = status
    reservation.updated_at = now


def _active(session: Session, reservation_id: int) -> tuple[Reservation, StockLevel]:
    """The reservation, with its level locked first, then checked to be active."""
    reservation = session.get(Reservation, reservation_id)
    if reservation is None:
        raise NotFound(f"No reservation {reservation_id}", code="unknown_reservation")
    level = lock_level(session, reservation.location_id, reservation.product_id)
    session.refresh(reservation)
    if reservation.status != "active":
        raise Conflict(f"Reservation {reservation_id} is {reservation.status}", code="reservation_not_active",
                       reservation_status=reservation.status)
    if reservation.expires_at is not None and reservation.expires_at < utcnow():
        raise Conflict(f"Reservation {reservation_id} was a hold that lapsed at {reservation.expires_at:%Y-%m-%d %H:%M}"
                       " UTC", code="reservation_not_active", reservation_status="expired")
    return reservation, level


def release(session: Session, *, actor: Actor, reservation_id: int, reason: str | None = None) -> Reservation:
    """Give reserved units back to available stock."""
    reservation, level = _active(session, reservation_id)
    actor.require_location(reservation.location_id)
    now = utcnow()
    _finish(session, reservation, "released", now)
    if reason:
        reservation.reason = reason
    level.reserved -= reservation.quantity
    level.updated_at = now
    _event(session, "stock.released", reservation, sku_of(session, reservation.product_id))
    return reservation


def consume(session: Session, *, actor: Actor, reservation_id: int, cause: Cause | None = None) -> Reservation:
    """Take reserved units out of stock (shipped or handed over), first-expired-first-out."""
    reservation, _ = take(session, actor=actor, reservation_id=reservation_id, cause=cause, kind="consume")
    return reservation


def take(session: Session, *, actor: Actor, reservation_id: int, cause: Cause | None, kind: str
         ) -> tuple[Reservation, list[tuple[StockLot, int]]]:
    """Consume a reservation first-expired-first-out; return the lots and units taken."""
    reservation, level = _active(session, reservation_id)
    actor.require_location(reservation.location_id)
    now = utcnow()
    lots = lots_of(session, level.location_id, level.product_id)
    try:
        taken = allocation.allocate_fefo([view(x) for x in lots], reservation.quantity, now.date())
    except allocation.NotEnoughInLots as exc:
        raise Conflict(f"Only {exc.found} of the {exc.wanted} reserved units are in lots that may still be sold; "
                       "write off the expired units and re-source the rest", code="insufficient_sellable_stock",
                       sellable=exc.found) from None
    by_id = {x.id: x for x in lots}
    result = []
    for lot_view, quantity in taken:
        lot = by_id[lot_view.id]
        lot.quantity -= quantity
        level.on_hand -= quantity
        ledger(session, actor, level, lot, -quantity, kind,
               cause=cause or Cause(reservation.owner_type, reservation.owner_id))
        result.append((lot, quantity))
    level.reserved -= reservation.quantity
    refresh_next_expiry(level, lots, now.date())
    _finish(session, reservation, "consumed", now)
    stock_changed(session, level, sku_of(session, reservation.product_id), kind)
    return reservation, result


def shrink(session: Session, *, actor: Actor, reservation_id: int, quantity: int) -> Reservation:
    """Reserve fewer units than before (a short pick); the difference becomes available again."""
    reservation, level = _active(session, reservation_id)
    if not 0 < quantity <= reservation.quantity:
        raise Invalid(f"A reservation of {reservation.quantity} can shrink to 1..{reservation.quantity} units",
                      field="quantity", code="invalid_quantity")
    level.reserved -= reservation.quantity - quantity
    level.updated_at = utcnow()
    reservation.quantity = quantity
    reservation.updated_at = utcnow()
    return reservation


def release_expired_holds(session: Session, *, actor: Actor, now: datetime | None = None) -> int:
    """Release every active reservation whose hold has run out; returns how many."""
    now = now or utcnow()
    due = session.execute(select(Reservation.location_id, Reservation.product_id).where(
        Reservation.status == "active", Reservation.expires_at < now).distinct()).all()
    released = 0
    for location_id, product_id in sorted(due):
        level = lock_level(session, location_id, product_id)
        released += _sweep_level(session, actor, level, sku_of(session, product_id), now)
    return released


def reservations_of(session: Session, *, owner_type: str, owner_id: str, after_id: int = 0,
                    limit: int | None = None) -> list[Reservation]:
    """Reservations of one owner (an order, a cart, a transfer), oldest first."""
    query = select(Reservation).where(Reservation.owner_type == owner_type, Reservation.owner_id == owner_id,
                                      Reservation.id > after_id).order_by(Reservation.id)
    return list(session.scalars(query.limit(limit) if limit is not None else query))


def reservation_event(type_: str, reservation: Any, sku: str) -> Event:
    """The event announcing a change of a reservation (a `Reservation` or a row with its columns)."""
    return Event(type_, "reservation", str(reservation.id), {
        "reservation_id": reservation.id, "location_id": reservation.location_id, "sku": sku,
        "quantity": reservation.quantity, "owner_type": reservation.owner_type, "owner_id": reservation.owner_id,
        "status": reservation.status})


def _event(session: Session, type_: str, reservation: Reservation, sku: str) -> None:
    emit(session, reservation_event(type_, reservation, sku))


