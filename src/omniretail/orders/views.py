"""Orders as the API answers them, read in a few set-based queries for a whole page."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.core.schemas import Money
from omniretail.inventory.models import Reservation
from omniretail.orders.models import Order, OrderEvent, OrderItem
from omniretail.orders.schemas import (
    AllocationOut,
    FulfilmentOut,
    HoldReasonOut,
    LineOut,
    OrderEventOut,
    OrderOut,
    PaymentOut,
)
from omniretail.orders.service import Placed


def _order(o: Order, items: list[OrderItem] | list[dict[str, Any]], allocations: list[AllocationOut]) -> OrderOut:
    def line(x: Any) -> LineOut:
        get = x.get if isinstance(x, dict) else lambda name: getattr(x, name)
        unit, currency, quantity = get("unit_price_minor"), get("currency"), get("quantity")
        return LineOut(sku=get("sku"), name=get("name"), quantity=quantity, unit_price=Money.of_minor(unit, currency),
                       total=Money.of_minor(unit * quantity, currency), channel=get("channel"))

    return OrderOut(
        id=o.id, status=o.status, channel=o.channel, customer_id=o.customer_id, lines=[line(x) for x in items],
        total=Money.of_minor(o.total_minor, o.currency),
        hold_reasons=[HoldReasonOut(code=r["code"], detail=r["detail"]) for r in o.hold_reasons or []],
        fulfilment=FulfilmentOut(type=o.fulfilment_type, location_id=o.location_id, address=o.delivery_address),
        payment=PaymentOut(status=o.payment_status, method=o.payment_method), allocations=allocations,
        origin_location_id=o.origin_location_id, cart_id=o.cart_id, created_at=o.created_at, updated_at=o.updated_at)


def placed_out(placed: Placed) -> OrderOut:
    """A new order as answered, from the rows written for it (nothing read back)."""
    return _order(placed.order, placed.items, [
        AllocationOut(location_id=loc, sku=sku, quantity=quantity, status=status)
        for loc, sku, quantity, status in placed.allocations])


def orders_out(session: Session, orders: list[Order]) -> list[OrderOut]:
    """The API shape of each order: lines at the prices it was placed with, and where its units are reserved."""
    if not orders:
        return []
    ids = [o.id for o in orders]
    lines: dict[int, list[OrderItem]] = defaultdict(list)
    for item in session.scalars(select(OrderItem).where(OrderItem.order_id.in_(ids))
                                .order_by(OrderItem.order_id, OrderItem.line_no)):
        lines[item.order_id].append(item)
    allocations: dict[str, list[AllocationOut]] = defaultdict(list)
    for owner_id, location_id, sku, quantity, status in session.execute(
            select(Reservation.owner_id, Reservation.location_id, Product.sku, Reservation.quantity,
                   Reservation.status).join(Product, Product.id == Reservation.product_id)
            .where(Reservation.owner_type == "order", Reservation.owner_id.in_([str(i) for i in ids]))
            .order_by(Reservation.id)):
        allocations[owner_id].append(AllocationOut(location_id=location_id, sku=sku, quantity=quantity,
                                                   status=status))
    return [_order(o, lines[o.id], allocations[str(o.id)]) for o in orders]


def order_out(session: Session, order: Order) -> OrderOut:
    return orders_out(session, [order])[0]


def event_out(event: OrderEvent) -> OrderEventOut:
    return OrderEventOut(id=event.id, at=event.at, actor=event.actor, channel=event.channel,
                         from_status=event.from_status, to_status=event.to_status, reason=event.reason,
                         data=event.data or {})
