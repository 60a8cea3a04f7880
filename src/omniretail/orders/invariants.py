"""What must hold of stored orders (`omniretail check`)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniretail.customers.models import Profile
from omniretail.inventory.models import Reservation
from omniretail.orders.models import Order, OrderItem

#: Orders that hold every unit reserved (fulfilment, once it lands, may consume or shrink them from here on).
RESERVING = ("created", "inspecting", "on_hold", "confirmed")
#: Orders that may hold no unit any more.
FINISHED = ("completed", "cancelled", "returned")


def order_violations(session: Session) -> list[str]:
    """Reservations of open orders match their lines; finished orders hold none; totals add up; no order
    belongs to a merged profile."""
    problems: list[str] = []
    status = dict(session.execute(select(Order.id, Order.status)).all())
    ordered: dict[int, dict[int, int]] = defaultdict(dict)
    for order_id, product_id, quantity in session.execute(
            select(OrderItem.order_id, OrderItem.product_id, func.sum(OrderItem.quantity))
            .join(Order, Order.id == OrderItem.order_id).where(Order.status.in_(RESERVING))
            .group_by(OrderItem.order_id, OrderItem.product_id)):
        ordered[order_id][product_id] = int(quantity)
    held: dict[int, dict[int, int]] = defaultdict(dict)
    for owner_id, product_id, quantity in session.execute(
            select(Reservation.owner_id, Reservation.product_id, func.sum(Reservation.quantity))
            .where(Reservation.owner_type == "order", Reservation.status == "active")
            .group_by(Reservation.owner_id, Reservation.product_id)):
        if owner_id.isdigit():
            held[int(owner_id)][product_id] = int(quantity)
    for order_id in sorted(set(ordered) | set(held)):
        if order_id not in status:
            problems.append(f"reservations for order {order_id}, which does not exist")
        elif status[order_id] in FINISHED and held.get(order_id):
            problems.append(f"order {order_id} is {status[order_id]} but still holds reserved units")
        elif status[order_id] in RESERVING and ordered.get(order_id, {}) != held.get(order_id, {}):
            problems.append(f"order {order_id}: lines want {ordered.get(order_id, {})}, reserved "
                            f"{held.get(order_id, {})} (by product id)")
    totals = session.execute(
        select(Order.id, Order.total_minor, func.sum(OrderItem.quantity * OrderItem.unit_price_minor))
        .join(OrderItem, OrderItem.order_id == Order.id).group_by(Order.id, Order.total_minor)
        .having(Order.total_minor != func.sum(OrderItem.quantity * OrderItem.unit_price_minor))).all()
    problems += [f"order {order_id}: total {total} but lines sum to {lines}" for order_id, total, lines in totals]
    merged = session.scalar(select(func.count()).select_from(Order).join(Profile, Profile.id == Order.customer_id)
                            .where(Profile.status == "merged"))
    if merged:
        problems.append(f"{merged} order(s) belong to merged profiles")
    return problems
