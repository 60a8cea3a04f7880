"""Short holds: a cart's lines reserved for a few minutes as inventory reservations of owner "cart".

A hold is all or nothing (409 `insufficient_stock` naming the short lines, nothing reserved).
It runs out by itself (`expires_at`); it is released when the lines change, when carts are
joined, and at checkout, where the order reserves for itself in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy.orm import Session

from omniretail.carts import errors, rules, service
from omniretail.carts.models import Cart
from omniretail.catalog.models import Product
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.outbox import emit
from omniretail.core.security import Actor, Role
from omniretail.inventory import atp, reservations
from omniretail.inventory.errors import InsufficientStock
from omniretail.inventory.models import Reservation

OWNER_TYPE = "cart"


def stock_actor(actor: Actor) -> Actor:
    """Who a hold is reserved as: the caller by name, with the whole network in scope. An associate sells from
    every store (endless aisle), and a customer holds their own cart; the cart, not the caller, owns the units."""
    return replace(actor, role=Role.OPERATIONS, location_ids=frozenset())


def active_holds(session: Session, cart: Cart) -> list[Reservation]:
    """The cart's reservations that still hold stock."""
    if cart.hold_expires_at is None:
        return []
    now = utcnow()
    return [r for r in reservations.reservations_of(session, owner_type=OWNER_TYPE, owner_id=str(cart.id))
            if r.status == "active" and (r.expires_at is None or r.expires_at > now)]


def release_all(session: Session, *, actor: Actor, carts: list[Cart], reason: str) -> int:
    """Release every hold of these carts (a lapsed one is left to the sweep); returns how many."""
    due: list[Reservation] = []
    for cart in carts:
        due += active_holds(session, cart)
        cart.hold_expires_at = None
    # Level rows are locked in (location, product) order, as every reservation path does.
    for held in sorted(due, key=lambda r: (r.location_id, r.product_id, r.id)):
        reservations.release(session, actor=stock_actor(actor), reservation_id=held.id, reason=reason)
    return len(due)


def hold(session: Session, *, actor: Actor, cart: Cart, minutes: int) -> list[Reservation]:
    """Reserve every line of the cart for `minutes`, or nothing (409 `insufficient_stock`)."""
    cart = service.lock(session, cart)
    service.authorise(session, actor, cart)
    lines = service.lines_of(session, cart)
    if not lines:
        raise errors.empty_cart(cart.id)
    if not 1 <= minutes <= rules.MAX_HOLD_MINUTES:
        raise errors.invalid_hold(minutes)
    replaced = release_all(session, actor=actor, carts=[cart], reason="held again")
    expires_at = utcnow() + timedelta(minutes=minutes)
    wanted, short = [], []
    for line in lines:
        sku = session.get(Product, line.product_id).sku  # type: ignore[union-attr]
        preferred = rules.serving_location(line_fulfilment=line.fulfilment, line_location=line.location_id,
                                           cart_pickup=cart.pickup_location_id)
        available = {} if preferred else {a.location.id: a.available for a in atp.availability(session, sku=sku)}
        location = rules.hold_location(quantity=line.quantity, preferred=preferred, available=available)
        if location is None:
            short.append({"location_id": None, "sku": sku, "requested": line.quantity, "available": 0})
        else:
            wanted.append(reservations.Line(location, sku, line.quantity))
    if short:
        raise InsufficientStock(short)
    made = reservations.reserve(session, actor=stock_actor(actor), lines=wanted, owner_type=OWNER_TYPE,
                                owner_id=str(cart.id), reason="cart hold", expires_at=expires_at)
    cart.hold_expires_at = expires_at
    cart.updated_at = utcnow()
    audit.record(session, actor, "cart.held", "cart", str(cart.id),
                 {"minutes": minutes, "reservations": [r.id for r in made], "replaced": replaced})
    emit(session, service.cart_event(cart, "held", {"expires_at": expires_at.isoformat()}))
    return made


def release(session: Session, *, actor: Actor, cart: Cart) -> int:
    """Give a cart's held stock back before the hold runs out."""
    cart = service.lock(session, cart)
    service.authorise(session, actor, cart)
    released = release_all(session, actor=actor, carts=[cart], reason="hold released")
    if released:
        cart.updated_at = utcnow()
        audit.record(session, actor, "cart.hold_released", "cart", str(cart.id), {"reservations": released})
        emit(session, service.cart_event(cart, "hold_released"))
    return released
