"""Cart lines: add, change and remove them, choose the pickup store.

Each change locks the cart row first (two channels changing one cart take turns), releases a
hold on the old lines, and is audited and announced as `cart.updated`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.carts import errors, holds
from omniretail.carts.models import Cart, CartLine
from omniretail.carts.rules import MAX_LINE_QUANTITY, MAX_LINES
from omniretail.carts.service import authorise, cart_event, change_channel, lines_of, lock
from omniretail.catalog.models import Product
from omniretail.catalog.service import get_product
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Invalid
from omniretail.core.outbox import emit
from omniretail.core.security import Actor
from omniretail.locations.service import get_location


@dataclass(frozen=True)
class Hint:
    """A line's own way of fulfilment (endless aisle): delivery, or pickup at a store."""

    type: str
    location_id: str | None = None


def check_hint(session: Session, hint: Hint | None, field: str) -> Hint | None:
    if hint is None:
        return None
    if hint.type == "delivery":
        if hint.location_id is not None:
            raise Invalid("A delivered line names no store; sourcing picks where it ships from",
                          field=f"{field}.location_id", code="invalid_fulfilment")
        return hint
    if hint.location_id is None:
        raise Invalid("Name the store the line is picked up at", field=f"{field}.location_id",
                      code="location_required")
    check_pickup(session, hint.location_id, f"{field}.location_id")
    return hint


def check_pickup(session: Session, location_id: str, field: str) -> None:
    location = get_location(session, location_id, field=field)
    if not location.active or not location.pickup:
        raise errors.pickup_not_offered(location_id, field)


def _currency_check(session: Session, cart: Cart, product: Product, field: str) -> None:
    currencies = set(session.scalars(select(Product.currency).join(CartLine, CartLine.product_id == Product.id)
                                     .where(CartLine.cart_id == cart.id, Product.id != product.id)))
    if currencies and product.currency not in currencies:
        raise errors.currency_mismatch(product.sku, product.currency, min(currencies), field)


def add_item(session: Session, *, actor: Actor, cart: Cart, sku: str, quantity: int, channel: str | None,
             hint: Hint | None) -> CartLine:
    """Add units of a SKU (the same SKU adds up; the line keeps the channel that first added it)."""
    cart = lock(session, cart)
    authorise(session, actor, cart)
    channel = change_channel(session, actor, channel, cart)
    _check_quantity(quantity, "quantity")
    product = get_product(session, sku, field="sku")
    if not product.active:
        raise Invalid(f"{sku} is no longer sold", field="sku", code="product_inactive")
    _currency_check(session, cart, product, "sku")
    hint = check_hint(session, hint, "fulfilment")
    line = session.scalar(select(CartLine).where(CartLine.cart_id == cart.id, CartLine.product_id == product.id))
    now = utcnow()
    if line is None:
        if len(lines_of(session, cart)) >= MAX_LINES:
            raise Invalid(f"A cart holds at most {MAX_LINES} different SKUs", field="sku", code="cart_full")
        line = CartLine(cart_id=cart.id, product_id=product.id, quantity=quantity, channel=channel,
                        fulfilment=hint.type if hint else None, location_id=hint.location_id if hint else None,
                        added_by=actor.name, created_at=now, updated_at=now)
        session.add(line)
    else:
        _check_quantity(line.quantity + quantity, "quantity", already=line.quantity)
        line.quantity += quantity
        line.updated_at = now
        if hint is not None:
            line.fulfilment, line.location_id = hint.type, hint.location_id
    session.flush()
    _changed(session, actor, cart, "cart.item_added", {"line_id": line.id, "sku": sku, "quantity": quantity,
                                                       "channel": channel})
    return line


def _check_quantity(quantity: int, field: str, *, already: int = 0) -> None:
    if quantity <= 0:
        raise Invalid("Quantity must be a positive whole number", field=field, code="invalid_quantity")
    if quantity > MAX_LINE_QUANTITY:
        raise Invalid(f"A cart line holds at most {MAX_LINE_QUANTITY} units" +
                      (f" ({already} are in the cart)" if already else ""), field=field, code="quantity_too_large")


def _line(session: Session, cart: Cart, line_id: int) -> CartLine:
    line = session.get(CartLine, line_id)
    if line is None or line.cart_id != cart.id:
        raise errors.unknown_line(cart.id, line_id)
    return line


def update_item(session: Session, *, actor: Actor, cart: Cart, line_id: int, quantity: int | None,
                hint: Hint | None, change_hint: bool, channel: str | None) -> CartLine:
    """Set a line's quantity and/or its way of fulfilment."""
    cart = lock(session, cart)
    authorise(session, actor, cart)
    change_channel(session, actor, channel, cart)
    line = _line(session, cart, line_id)
    changes: dict[str, object] = {"line_id": line.id}
    if quantity is not None:
        _check_quantity(quantity, "quantity")
        changes["quantity"] = {"from": line.quantity, "to": quantity}
        line.quantity = quantity
    if change_hint:
        hint = check_hint(session, hint, "fulfilment")
        changes["fulfilment"] = {"type": hint.type, "location_id": hint.location_id} if hint else None
        line.fulfilment, line.location_id = (hint.type, hint.location_id) if hint else (None, None)
    line.updated_at = utcnow()
    session.flush()
    _changed(session, actor, cart, "cart.item_changed", changes)
    return line


def remove_item(session: Session, *, actor: Actor, cart: Cart, line_id: int) -> None:
    """Take a line out of the cart."""
    cart = lock(session, cart)
    authorise(session, actor, cart)
    line = _line(session, cart, line_id)
    session.delete(line)
    session.flush()
    _changed(session, actor, cart, "cart.item_removed", {"line_id": line_id, "quantity": line.quantity})


def set_pickup_location(session: Session, *, actor: Actor, cart: Cart, location_id: str | None,
                        channel: str | None) -> Cart:
    """Choose the store the cart is picked up at (availability is shown there); null clears it."""
    cart = lock(session, cart)
    authorise(session, actor, cart)
    change_channel(session, actor, channel, cart)
    if location_id is not None:
        check_pickup(session, location_id, "pickup_location_id")
    if cart.pickup_location_id != location_id:
        before, cart.pickup_location_id = cart.pickup_location_id, location_id
        _changed(session, actor, cart, "cart.pickup_location_set", {"from": before, "to": location_id})
    return cart


def _changed(session: Session, actor: Actor, cart: Cart, action: str, changes: dict[str, object]) -> None:
    """Lines changed: a hold on the old lines no longer stands; audit and tell subscribers."""
    released = holds.release_all(session, actor=actor, carts=[cart], reason="cart changed")
    cart.updated_at = utcnow()
    audit.record(session, actor, action, "cart", str(cart.id), {**changes, "holds_released": released})
    emit(session, cart_event(cart, action.removeprefix("cart.")))
