"""Room at a store for what its till did offline: units sold (or counted missing) there that were meanwhile
promised online.

A sale at the till happened and cannot be undone, so the promises that the store's free units cannot cover give
way, newest first within each kind, in this order:

1. cart holds there are released (minute-long holds; the checkout reserves again);
2. orders held for inspection move those units to other locations, only if other locations can take all of them
   (a held order keeps every unit reserved);
3. orders whose units there are not being picked yet (a confirmed order not released yet is released to
   fulfilment first) give those units up at the store; they are re-sourced to other locations, each in a
   fulfilment of its own (`fulfilment.picking.resource`), and what no location holds is unfilled
   (`fulfilment.short`), reported with the entry and as `pos.conflict`.

Units being picked, packed or waiting at the counter, transfers and manual holds never give way: what they leave
may not cover the sale, which is then refused by the orders service (409 `insufficient_stock`).

Locks are taken as the other paths take them: fulfilments, then orders, then the store's level rows (by product);
the other locations' rows that re-sourcing reserves come last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.core.security import Actor
from omniretail.fulfilment import picking, states
from omniretail.fulfilment import service as fulfilment
from omniretail.fulfilment.models import Fulfilment, FulfilmentLine
from omniretail.inventory import reservations
from omniretail.inventory import service as inventory
from omniretail.inventory.levels import lock_level
from omniretail.inventory.models import Reservation, StockLevel
from omniretail.locations import capacity
from omniretail.orders import service as orders
from omniretail.orders.models import Order

#: Orders not released to fulfilment yet that hold their units for staff (all or nothing).
HELD = frozenset({"created", "inspecting", "on_hold"})


@dataclass
class Room:
    """What gave way: units of orders reserved elsewhere now, units found nowhere, cart holds released."""

    resourced: list[dict[str, Any]] = field(default_factory=list)
    unfilled: list[dict[str, Any]] = field(default_factory=list)
    released_holds: list[dict[str, Any]] = field(default_factory=list)


def tidy(session: Session, *, actor: Actor, location_id: str) -> None:
    """Sweep lots past their expiry at the store and cart holds that ran out, so the levels say what is free."""
    stock = orders.stock_actor(actor)
    inventory.sweep_expired(session, actor=stock, location_id=location_id)
    reservations.release_expired_holds(session, actor=stock)


def room_for_sale(session: Session, *, actor: Actor, location_id: str, demand: dict[int, int],
                  skus: dict[int, str]) -> Room:
    """Make the units sold (`demand` by product id) free at the store: the promises its free units cannot
    cover give way."""
    def need(level: StockLevel) -> int:
        return demand[level.product_id] - (level.on_hand - level.reserved - level.expired)

    return _make_room(session, actor, location_id, skus, need)


def room_for_count(session: Session, *, actor: Actor, location_id: str, counted: dict[int, int],
                   skus: dict[int, str]) -> Room:
    """Make room for a count (`counted` by product id, whole levels) that finds fewer sellable units than are
    promised: the promises beyond what was found give way."""
    def need(level: StockLevel) -> int:
        removed = level.on_hand - counted[level.product_id]
        if removed <= 0:
            return 0
        expired_after = max(0, level.expired - removed)  # a count removes expired units first
        return level.reserved - (counted[level.product_id] - expired_after)

    return _make_room(session, actor, location_id, skus, need)


def _promises(session: Session, location_id: str, product_ids: list[int]) -> list[Reservation]:
    """Active reservations of orders and carts at the store, newest first."""
    query = (select(Reservation).where(Reservation.location_id == location_id,
                                       Reservation.product_id.in_(product_ids), Reservation.status == "active",
                                       Reservation.owner_type.in_(("order", "cart")))
             .order_by(Reservation.id.desc()).execution_options(populate_existing=True))
    return list(session.scalars(query))


def _lock_owners(session: Session, promises: list[Reservation]) -> set[int]:
    """Lock the not-started fulfilments holding the promises, then their orders (by id); return the order ids."""
    order_ids = sorted({int(r.owner_id) for r in promises if r.owner_type == "order" and r.owner_id.isdigit()})
    if not order_ids:
        return set()
    fulfilment_ids = select(FulfilmentLine.fulfilment_id).where(
        FulfilmentLine.reservation_id.in_([r.id for r in promises]))
    locking = session.get_bind().dialect.name == "postgresql"
    for model, where in ((Fulfilment, (Fulfilment.id.in_(fulfilment_ids), Fulfilment.status == states.CREATED)),
                         (Order, (Order.id.in_(order_ids),))):
        query = select(model).where(*where).order_by(model.id).execution_options(populate_existing=True)
        session.scalars(query.with_for_update() if locking else query).all()
    return set(order_ids)


def _make_room(session: Session, actor: Actor, location_id: str, skus: dict[int, str],
               need_of: Callable[[StockLevel], int]) -> Room:
    product_ids = sorted(skus)
    locked = _lock_owners(session, _promises(session, location_id, product_ids))
    levels = {product_id: lock_level(session, location_id, product_id) for product_id in product_ids}
    room = Room()
    for product_id in product_ids:
        need = need_of(levels[product_id])
        if need <= 0:
            continue
        # Read again under the level's lock: from here on nobody changes the reservations of this level.
        promises = [r for r in _promises(session, location_id, [product_id])
                    if r.owner_type == "cart" or (r.owner_id.isdigit() and int(r.owner_id) in locked)]
        carts = [r for r in promises if r.owner_type == "cart"]
        ordered = [(r, session.get(Order, int(r.owner_id))) for r in promises if r.owner_type == "order"]
        for reservation in carts:
            if need > 0:
                need -= _release_hold(session, actor, location_id, reservation, skus[product_id], room)
        for reservation, order in ordered:
            if need > 0 and order is not None and order.status in HELD:
                need -= _move_held(session, actor, location_id, reservation, order, skus[product_id],
                                   min(need, reservation.quantity), room)
        for reservation, order in ordered:
            if need > 0 and order is not None and order.status not in HELD:
                need -= _give_up(session, actor, location_id, reservation, order, skus[product_id],
                                 min(need, reservation.quantity), room)
    return room


def _why(location_id: str) -> str:
    return f"units sold at {location_id} while its till was offline"


def _release_hold(session: Session, actor: Actor, location_id: str, hold: Reservation, sku: str, room: Room) -> int:
    reservations.release(session, actor=orders.stock_actor(actor), reservation_id=hold.id, reason=_why(location_id))
    room.released_holds.append({"cart_id": int(hold.owner_id) if hold.owner_id.isdigit() else 0, "sku": sku,
                                "quantity": hold.quantity})
    return hold.quantity


def _move_held(session: Session, actor: Actor, location_id: str, reservation: Reservation, order: Order, sku: str,
               units: int, room: Room) -> int:
    """A held order's units go elsewhere only if all of them find room there; returns the units freed."""
    plan = picking.plan_elsewhere(session, order, {sku: units}, {sku: reservation.product_id}, location_id)
    if sum(line.quantity for line in plan) < units:
        return 0
    stock = orders.stock_actor(actor)
    if order.fulfilment_type == "delivery":  # the day's counts follow the units (`locations.capacity`)
        capacity.move(session, away=[SimpleNamespace(location_id=location_id, quantity=units,
                                                     created_at=reservation.created_at)],
                      to=capacity.units_by_location(plan))
    if units < reservation.quantity:
        reservations.shrink(session, actor=stock, reservation_id=reservation.id, quantity=reservation.quantity - units)
    else:
        reservations.release(session, actor=stock, reservation_id=reservation.id, reason=_why(location_id))
    reservations.reserve(session, actor=stock, lines=plan, owner_type="order", owner_id=str(order.id),
                         reason=f"order {order.id} re-sourced: {_why(location_id)}")
    room.resourced += [{"order_id": order.id, "sku": sku, "quantity": line.quantity, "from_location_id": location_id,
                        "to_location_id": line.location_id} for line in plan]
    return units


def _give_up(session: Session, actor: Actor, location_id: str, reservation: Reservation, order: Order, sku: str,
             units: int, room: Room) -> int:
    """Units of an order not being picked yet leave the store's fulfilment and are re-sourced; returns the units
    freed (0 when the goods are already being picked, packed or wait at the counter)."""
    if order.status == "confirmed" and not fulfilment.fulfilments_of(session, order.id):
        fulfilment.release(session, actor=orders.stock_actor(actor), order_id=order.id)
    found = session.execute(select(FulfilmentLine, Fulfilment).join(Fulfilment, Fulfilment.id ==
                                                                   FulfilmentLine.fulfilment_id)
                            .where(FulfilmentLine.reservation_id == reservation.id)).first()
    if found is None or found[1].status != states.CREATED:
        return 0
    line, short_at = found
    picking.give_up(session, actor, line, units, f"order {order.id}: {_why(location_id)}")
    plan, unfilled = picking.resource(session, actor, order, short_at, {sku: units}, {sku: reservation.product_id})
    if all(x.quantity == 0 for x in fulfilment.lines_of(session, short_at.id)):
        fulfilment.move(session, actor, short_at, states.CANCELLED)
    room.resourced += [{"order_id": order.id, "sku": sku, "quantity": x.quantity, "from_location_id": location_id,
                        "to_location_id": x.location_id} for x in plan]
    room.unfilled += [{"order_id": order.id, "sku": sku, "quantity": n} for sku, n in sorted(unfilled.items())]
    return units
