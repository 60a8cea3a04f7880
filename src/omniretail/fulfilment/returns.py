"""Returns (C21), in any channel for orders from any channel: the goods are restocked where they came back (or
written off with a reason), the refund is recorded against the order's payment, loyalty points are taken back
in proportion, and the store the sale was credited to is debited. An order returned in full is `returned`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.channels.service import check_channel
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Forbidden, Invalid
from omniretail.core.money import from_minor
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor, Role
from omniretail.customers.profiles import add_timeline
from omniretail.fulfilment import attribution
from omniretail.fulfilment.models import Return, ReturnLine
from omniretail.inventory.service import Cause, receive
from omniretail.locations.service import get_location
from omniretail.orders import service as orders
from omniretail.orders.models import OrderItem

#: Orders whose goods have left (some or all): what can come back.
RETURNABLE = frozenset({"completed", "partially_shipped"})
DISPOSITIONS = ("restock", "write_off")
RETURNERS = (Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.AGENT)


@dataclass(frozen=True)
class ReturnLineIn:
    sku: str
    quantity: int
    disposition: str = "restock"
    reason: str | None = None


def returned_so_far(session: Session, order_id: int) -> dict[str, int]:
    rows = session.execute(select(ReturnLine.sku, func.sum(ReturnLine.quantity))
                           .join(Return, Return.id == ReturnLine.return_id)
                           .where(Return.order_id == order_id).group_by(ReturnLine.sku))
    return {sku: int(units) for sku, units in rows}


def create_return(session: Session, *, actor: Actor, order_id: int, location_id: str, channel: str,
                  lines: list[ReturnLineIn], reason: str | None = None) -> Return:
    """Take goods of an order back (409 `return_exceeds_order` for more units than were bought and not yet
    returned; 409 `order_not_returnable` before any goods left)."""
    if actor.role not in RETURNERS:
        raise Forbidden(f"The {actor.role.value} role does not take returns", code="role_forbidden")
    order = orders.get_order(session, actor=orders.stock_actor(actor), order_id=order_id, for_update=True)
    check_channel(session, channel)
    location = get_location(session, location_id, field="location_id")
    actor.require_location(location.id)
    if order.status not in RETURNABLE:
        raise Conflict(f"Order {order.id} is {order.status.replace('_', ' ')}; only goods that left can come back",
                       code="order_not_returnable", status=order.status)
    if not lines:
        raise Invalid("A return has at least one line", field="lines", code="empty_return")
    bought: dict[str, tuple[int, int, int]] = {}  # sku -> (units, unit price, product id)
    for item in session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)):
        units, _, _ = bought.get(item.sku, (0, 0, 0))
        bought[item.sku] = (units + item.quantity, item.unit_price_minor, item.product_id)
    before = returned_so_far(session, order.id)
    asked: dict[str, int] = {}
    for i, line in enumerate(lines):
        if line.sku not in bought:
            raise Invalid(f"Order {order.id} has no {line.sku}", field=f"lines.{i}.sku", code="sku_not_in_order")
        if line.quantity <= 0:
            raise Invalid("Return at least one unit", field=f"lines.{i}.quantity", code="invalid_quantity")
        if line.disposition not in DISPOSITIONS:
            raise Invalid("disposition is restock or write_off", field=f"lines.{i}.disposition",
                          code="invalid_disposition")
        if line.disposition == "write_off" and not (line.reason or "").strip():
            raise Invalid("A write-off says why", field=f"lines.{i}.reason", code="reason_required")
        asked[line.sku] = asked.get(line.sku, 0) + line.quantity
    too_many = [{"sku": sku, "bought": bought[sku][0], "returned": before.get(sku, 0), "asked": units}
                for sku, units in asked.items() if before.get(sku, 0) + units > bought[sku][0]]
    if too_many:
        raise Conflict("More units than were bought and not yet returned: " + ", ".join(
            f"{x['sku']} (bought {x['bought']}, returned {x['returned']}, asked {x['asked']})" for x in too_many),
            code="return_exceeds_order", lines=too_many)
    perishable = set(session.scalars(select(Product.sku).where(Product.sku.in_(list(asked)), Product.perishable)))
    for i, line in enumerate(lines):
        if line.disposition == "restock" and line.sku in perishable:
            raise Invalid(f"{line.sku} is perishable: it is written off, not restocked", field=f"lines.{i}.disposition",
                          code="perishable_not_restocked")
    refund = sum(bought[line.sku][1] * line.quantity for line in lines)
    returned = Return(order_id=order.id, location_id=location.id, channel=channel, refund_minor=refund,
                      currency=order.currency, refund_method=order.payment_method, reason=reason, actor=actor.name,
                      created_at=utcnow())
    session.add(returned)
    session.flush()
    for line in lines:
        session.add(ReturnLine(return_id=returned.id, product_id=bought[line.sku][2], sku=line.sku,
                               quantity=line.quantity, disposition=line.disposition, reason=line.reason,
                               refund_minor=bought[line.sku][1] * line.quantity))
        if line.disposition == "restock":
            receive(session, actor=orders.stock_actor(actor), location_id=location.id, sku=line.sku,
                    quantity=line.quantity, lot=f"RETURN-{returned.id}", cause=Cause("return", str(returned.id)))
    returned.points_reversed = attribution.reverse_points(session, actor, order, refund, channel)
    attribution.debit_return(session, order, returned)
    amount = f"{from_minor(refund, order.currency)} {order.currency}"
    data = {"return_id": returned.id, "order_id": order.id, "customer_id": order.customer_id,
            "location_id": location.id, "channel": channel, "refund": {"amount": from_minor(refund, order.currency),
                                                                       "currency": order.currency},
            "refund_method": order.payment_method, "points_reversed": returned.points_reversed,
            "lines": [{"sku": x.sku, "quantity": x.quantity, "disposition": x.disposition} for x in lines]}
    emit(session, Event("return.created", "order", str(order.id), data))
    audit.record(session, actor, "return.created", "return", str(returned.id), data, note=reason)
    everything = all(before.get(sku, 0) + asked.get(sku, 0) >= units for sku, (units, _, _) in bought.items())
    if everything and order.status == "completed":
        orders.move_order(session, actor=actor, order=order, target="returned", channel=channel,
                          reason=reason or f"returned at {location.id}", data={"return_id": returned.id})
    else:
        add_timeline(session, order.customer_id, kind="order_return", actor=actor, channel=channel,
                     summary=f"Order {order.id}: {sum(asked.values())} item(s) returned at {location.name}, "
                             f"{amount} refunded", data={"order_id": order.id, "return_id": returned.id})
    return returned
