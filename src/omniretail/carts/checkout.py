"""Checkout: the cart becomes orders in one transaction, or nothing changes.

Lines go the way the checkout says, except lines with their own way (endless aisle: delivered,
or picked up at another store), which become an order of their own each. Every order reserves
its own stock, so the cart's hold is released first in the same transaction: a refusal
(409 `insufficient_stock`, a bad address) rolls all of it back and leaves the cart, its lines
and its hold as they were. A checked-out cart is no longer anyone's active cart; the customer's
next access opens a new, empty one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.carts import errors, holds, rules, service
from omniretail.carts.models import Cart
from omniretail.catalog.models import Product
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Invalid
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor
from omniretail.customers.profiles import add_timeline
from omniretail.orders import service as orders
from omniretail.orders.models import Order
from omniretail.orders.schemas import DeliveryAddressIn, FulfilmentIn, PaymentIn


@dataclass(frozen=True)
class Checkout:
    cart: Cart
    orders: list[Order]


def _default(cart: Cart, fulfilment: FulfilmentIn | None) -> FulfilmentIn:
    if fulfilment is not None:
        return fulfilment
    if cart.pickup_location_id is None:
        raise Invalid("Say how the cart goes (delivery, pickup or in_store), or choose its pickup store first",
                      field="fulfilment", code="fulfilment_required")
    return FulfilmentIn(type="pickup", location_id=cart.pickup_location_id)


def _order_fulfilment(group: rules.Fulfilment, default: FulfilmentIn,
                      delivery_address: DeliveryAddressIn | None) -> FulfilmentIn:
    if group == rules.Fulfilment(default.type, default.location_id if default.type != "delivery" else None):
        return default
    if group.type == "pickup":
        return FulfilmentIn(type="pickup", location_id=group.location_id)
    address = delivery_address or (default.address if default.type == "delivery" else None)
    if address is None:
        raise Invalid("Lines marked for delivery need an address: send delivery_address", field="delivery_address",
                      code="address_required")
    return FulfilmentIn(type="delivery", address=address)


def checkout(session: Session, *, actor: Actor, cart: Cart, channel: str | None, fulfilment: FulfilmentIn | None,
             delivery_address: DeliveryAddressIn | None, payment: PaymentIn,
             origin_location_id: str | None = None) -> Checkout:
    """Turn the cart into orders (one per way of fulfilment) at catalogue prices, and close it."""
    cart = service.lock(session, service.open_cart(session, actor=actor, cart=cart))
    service.authorise(session, actor, cart)
    channel = service.change_channel(session, actor, channel, cart)
    if cart.customer_id is None:
        raise errors.anonymous_cart(cart.id)
    lines = service.lines_of(session, cart)
    if not lines:
        raise errors.empty_cart(cart.id)
    default = _default(cart, fulfilment)
    base = rules.Fulfilment(default.type, default.location_id if default.type != "delivery" else None)
    groups = rules.group_lines([(x.id, rules.Fulfilment(x.fulfilment, x.location_id) if x.fulfilment else None)
                                for x in lines], base)
    by_id = {x.id: x for x in lines}
    skus = {pid: sku for pid, sku in session.execute(
        select(Product.id, Product.sku).where(Product.id.in_({x.product_id for x in lines})))}
    released = holds.release_all(session, actor=actor, carts=[cart], reason="checked out")
    placed = []
    for group, line_ids in groups:
        how = _order_fulfilment(group, default, delivery_address)
        placed.append(orders.place_order(
            session, actor=actor, channel=channel, customer_id=cart.customer_id, cart_id=str(cart.id),
            lines=[orders.OrderLine(skus[by_id[i].product_id], by_id[i].quantity, by_id[i].channel) for i in line_ids],
            fulfilment=how, payment=payment, origin_location_id=origin_location_id))
    now = utcnow()
    cart.status, cart.active_for, cart.active_device = "checked_out", None, None
    cart.order_ids, cart.checked_out_at, cart.updated_at = [o.id for o in placed], now, now
    session.flush()
    ids = [o.id for o in placed]
    audit.record(session, actor, "cart.checked_out", "cart", str(cart.id),
                 {"orders": ids, "channel": channel, "holds_released": released})
    emit(session, Event("cart.checked_out", "cart", str(cart.id), {
        "cart_id": cart.id, "customer_id": cart.customer_id, "channel": channel, "order_ids": ids}))
    add_timeline(session, cart.customer_id, kind="cart_checked_out", actor=actor, channel=channel,
                 summary=f"Cart checked out via {channel}: order{'s' if len(ids) > 1 else ''} "
                         + ", ".join(str(i) for i in ids), data={"cart_id": cart.id, "order_ids": ids})
    return Checkout(cart, placed)
