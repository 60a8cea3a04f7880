"""A cart as the API answers it: lines priced by the catalogue now, with live availability."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.carts import holds, rules
from omniretail.carts.models import Cart, CartLine
from omniretail.carts.schemas import (
    CartLineOut,
    CartOut,
    HoldOut,
    HoldReservationOut,
    LineAvailabilityOut,
    LineFulfilmentOut,
)
from omniretail.catalog.models import Product
from omniretail.core.clock import utcnow
from omniretail.core.config import get_settings
from omniretail.core.schemas import Money
from omniretail.inventory import atp, reservations


def _availability(session: Session, sku: str, location_id: str | None, quantity: int) -> LineAvailabilityOut:
    per_location = {a.location.id: a.available for a in atp.availability(session, sku=sku)}
    total = sum(per_location.values())
    here = per_location.get(location_id, 0) if location_id is not None else None
    enough = (here if here is not None else total) >= quantity
    return LineAvailabilityOut(location_id=location_id, available=here, network=total, enough=enough)


def cart_out(session: Session, cart: Cart, *, requested_id: int | None = None, base_url: str = "/",
             live: bool | None = None) -> CartOut:
    """The cart with its lines; availability is live for an active cart (`live` overrides)."""
    live = cart.status == "active" if live is None else live
    rows = session.execute(select(CartLine, Product).join(Product, Product.id == CartLine.product_id)
                           .where(CartLine.cart_id == cart.id).order_by(CartLine.id)).all()
    currency = rows[0][1].currency if rows else get_settings().default_currency
    lines, total = [], 0
    for line, product in rows:
        serving = rules.serving_location(line_fulfilment=line.fulfilment, line_location=line.location_id,
                                         cart_pickup=cart.pickup_location_id)
        availability = _availability(session, product.sku, serving, line.quantity) if live else None
        line_total = product.price_minor * line.quantity
        total += line_total
        lines.append(CartLineOut(
            id=line.id, sku=product.sku, name=product.name, quantity=line.quantity, channel=line.channel,
            unit_price=Money.of_minor(product.price_minor, product.currency),
            line_total=Money.of_minor(line_total, product.currency),
            fulfilment=LineFulfilmentOut(type=line.fulfilment, location_id=line.location_id) if line.fulfilment
            else None, availability=availability, added_by=line.added_by, created_at=line.created_at,
            updated_at=line.updated_at))
    return CartOut(
        id=cart.id, requested_id=requested_id if requested_id not in (None, cart.id) else None, token=cart.token,
        status=cart.status, customer_id=cart.customer_id, device_id=cart.device_id, channel=cart.channel,
        pickup_location_id=cart.pickup_location_id, lines=lines, item_count=sum(x.quantity for x in lines),
        total=Money.of_minor(total, currency), hold=_hold(session, cart),
        order_ids=[str(x) for x in cart.order_ids or []],
        qr_url=f"{base_url.rstrip('/')}/api/v1/carts/{cart.id}/qr", created_at=cart.created_at,
        updated_at=cart.updated_at, checked_out_at=cart.checked_out_at)


def _hold(session: Session, cart: Cart) -> HoldOut | None:
    if cart.hold_expires_at is None:
        return None
    made = reservations.reservations_of(session, owner_type=holds.OWNER_TYPE, owner_id=str(cart.id))
    expires = cart.hold_expires_at
    current = [r for r in made if r.expires_at == expires]
    skus = dict(session.execute(select(Product.id, Product.sku).where(
        Product.id.in_({r.product_id for r in current}))).all()) if current else {}
    active = expires > utcnow() and all(r.status == "active" for r in current)
    return HoldOut(expires_at=expires, active=active, reservations=[
        HoldReservationOut(id=r.id, location_id=r.location_id, sku=skus[r.product_id], quantity=r.quantity)
        for r in current])
