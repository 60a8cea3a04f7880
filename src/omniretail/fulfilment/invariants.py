"""What must hold of stored fulfilments (`omniretail check`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.fulfilment import states
from omniretail.fulfilment.models import Fulfilment, FulfilmentLine, Return, ReturnLine
from omniretail.inventory.models import Reservation
from omniretail.orders.models import OrderItem

OPEN = (states.CREATED, states.PICKING, states.PACKED, states.READY)


def fulfilment_violations(session: Session) -> list[str]:
    """Open fulfilments hold their lines reserved for their order; finished ones hold nothing; no order has more
    units returned than bought."""
    problems: list[str] = []
    rows = session.execute(
        select(Fulfilment.id, Fulfilment.order_id, Fulfilment.status, FulfilmentLine.sku, FulfilmentLine.quantity,
               Reservation.status, Reservation.quantity, Reservation.owner_id)
        .join(FulfilmentLine, FulfilmentLine.fulfilment_id == Fulfilment.id)
        .outerjoin(Reservation, Reservation.id == FulfilmentLine.reservation_id)).all()
    for fid, order_id, status, sku, quantity, held, held_quantity, owner in rows:
        if status in OPEN and quantity > 0 and (held != "active" or held_quantity != quantity
                                                or owner != str(order_id)):
            problems.append(f"fulfilment {fid} ({status}): {quantity} × {sku} not reserved for order {order_id}")
        if status not in OPEN and held == "active":
            problems.append(f"fulfilment {fid} is {status} but still holds {sku} reserved")
    bought: dict[tuple[int, str], int] = {}
    for order_id, sku, quantity in session.execute(select(OrderItem.order_id, OrderItem.sku, OrderItem.quantity)
                                                   .where(OrderItem.order_id.in_(select(Return.order_id)))):
        bought[(order_id, sku)] = bought.get((order_id, sku), 0) + quantity
    returned: dict[tuple[int, str], int] = {}
    for order_id, sku, quantity in session.execute(select(Return.order_id, ReturnLine.sku, ReturnLine.quantity)
                                                   .join(ReturnLine, ReturnLine.return_id == Return.id)):
        returned[(order_id, sku)] = returned.get((order_id, sku), 0) + quantity
    problems += [f"order {o}: {n} × {sku} returned, {bought.get((o, sku), 0)} bought"
                 for (o, sku), n in sorted(returned.items()) if n > bought.get((o, sku), 0)]
    return problems
