"""Carts: open the one active cart of a customer or a device, join carts, give a cart to a customer.

A customer has one active cart, whichever channel asks. Two things can leave a person with
more than one for a moment, and the next access of their cart joins them into one: a customer
merge (the absorbed person's carts follow them to the survivor) and an anonymous device cart
whose device has since been identified as the customer (`identify` linked a `device_id`).
Joining adds up quantities of the same SKU; every line keeps the channel that added it.
Line changes are in `carts.items`, holds in `carts.holds`, checkout in `carts.checkout`.
"""

from __future__ import annotations

import secrets

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from omniretail.carts import errors, holds
from omniretail.carts.models import Cart, CartLine
from omniretail.carts.rules import LineRef, default_channel, plan_join
from omniretail.channels.service import check_channel
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.config import get_settings
from omniretail.core.db import insert_ignore
from omniretail.core.errors import Forbidden
from omniretail.core.outbox import Event, emit
from omniretail.core.security import SYSTEM, Actor, Role
from omniretail.customers import merging, privacy
from omniretail.customers.identities import normalise
from omniretail.customers.models import Identity, Profile
from omniretail.customers.profiles import (
    MAX_MERGE_HOPS,
    add_timeline,
    identities_of,
    mask,
    merged_in,
    require_active,
    resolve,
)


def new_token() -> str:
    return secrets.token_urlsafe(24)


# --- finding carts and who may see them ---------------------------------------------------------------------


def get_cart(session: Session, cart_id: int) -> Cart:
    """The cart with this id, or the cart it was joined into (404 `unknown_cart`)."""
    cart = session.get(Cart, cart_id)
    hops = 0
    while cart is not None and cart.status == "merged" and cart.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        cart, hops = session.get(Cart, cart.merged_into_id), hops + 1
    if cart is None:
        raise errors.unknown_cart(cart_id)
    return cart


def cart_by_token(session: Session, token: str) -> Cart:
    """The cart a QR code names (404 `unknown_cart`)."""
    cart = session.scalar(select(Cart).where(Cart.token == token))
    if cart is None:
        raise errors.unknown_cart("with this code")
    return get_cart(session, cart.id)


def authorise(session: Session, actor: Actor, cart: Cart) -> None:
    """Customer keys reach only their own cart (also through an id merged into them); staff reach every cart."""
    if actor.role is not Role.CUSTOMER:
        return
    own = actor.customer_id
    if cart.customer_id is None or own is None or not own.isdigit() or \
            resolve(session, int(own)).id != resolve(session, cart.customer_id).id:
        raise errors.not_your_cart()


def authorise_customer(session: Session, actor: Actor, customer_id: int) -> Profile:
    """The customer (following merges) whose cart `actor` asks for; customers may ask only for themselves."""
    profile = resolve(session, customer_id)
    if actor.role is Role.CUSTOMER:
        own = actor.customer_id
        if own is None or not own.isdigit() or resolve(session, int(own)).id != profile.id:
            raise errors.not_your_cart()
    return profile


def change_channel(session: Session, actor: Actor, channel: str | None, cart: Cart | None = None,
                   field: str = "channel") -> str:
    """The channel a change is credited to; an integration key speaks only for its own channel."""
    if channel is not None and actor.role is Role.INTEGRATION and actor.channel not in (None, channel):
        raise Forbidden(f"This key speaks for channel {actor.channel!r}, not {channel!r}",
                        code="channel_out_of_scope")
    chosen = channel or default_channel(role=actor.role.value, key_channel=actor.channel,
                                        cart_channel=cart.channel if cart else None)
    check_channel(session, chosen, field=field)
    return chosen


def device_value(device_id: str, field: str = "device_id") -> str:
    """The stored form of a device id (the same one identify keeps)."""
    return normalise("device_id", device_id, region=None, default_region=get_settings().default_region,
                     field=field).value


def device_owner(session: Session, device: str) -> int | None:
    """The customer a device has been identified as, if any."""
    owner = session.scalar(select(Identity.profile_id).where(Identity.type == "device_id", Identity.value == device))
    return None if owner is None else resolve(session, owner).id


def _candidates(people: list[int], devices: list[str]):  # type: ignore[no-untyped-def]
    """Active carts that are, or should join, the one cart of `people[0]` (and those merged into them)."""
    mine = or_(Cart.customer_id.in_(people), Cart.active_for == people[0])
    if devices:
        mine = or_(mine, and_(Cart.customer_id.is_(None), Cart.active_device.in_(devices)))
    return select(Cart).where(Cart.status == "active", mine).order_by(Cart.id)


def _people(session: Session, customer_id: int) -> tuple[list[int], list[str]]:
    people = [customer_id, *merged_in(session, customer_id)]
    devices = [i.value for rows in identities_of(session, [customer_id]).values() for i in rows
               if i.type == "device_id"]
    return people, devices


def settled_cart(session: Session, customer_id: int) -> Cart | None:
    """The customer's one active cart when nothing needs joining or creating (a read), else None."""
    found = list(session.scalars(_candidates(*_people(session, customer_id))))
    if len(found) == 1 and found[0].active_for == customer_id and found[0].customer_id == customer_id:
        return found[0]
    return None


def is_settled(session: Session, cart: Cart) -> bool:
    """Whether opening this cart needs no write (no join pending)."""
    if cart.status != "active":
        return True
    if cart.customer_id is not None:
        return settled_cart(session, resolve(session, cart.customer_id).id) is cart
    return cart.device_id is None or device_owner(session, cart.device_id) is None


# --- opening ------------------------------------------------------------------------------------------------


def open_customer_cart(session: Session, *, actor: Actor, customer_id: int, channel: str | None = None) -> Cart:
    """Return the customer's one active cart: joined from every cart they have, or new and empty."""
    profile = authorise_customer(session, actor, customer_id)
    require_active(profile)
    cid = profile.id
    people, devices = _people(session, cid)
    found = list(session.scalars(_candidates(people, devices).with_for_update()
                                 .execution_options(populate_existing=True)))
    for cart in found:
        if cart.active_for == cid and cart.customer_id not in people:
            cart.active_for = None  # an unmerge took this cart back to its own person
    session.flush()
    mine = [c for c in found if c.customer_id in people]
    target = next((c for c in mine if c.active_for == cid), None) or (mine[0] if mine else None)
    anonymous = [c for c in found if c.customer_id is None]
    if target is None and anonymous:
        target = anonymous.pop(0)  # the device's cart becomes the person's
        target.active_device = None
        audit.record(session, actor, "cart.adopted", "cart", str(target.id), {"customer_id": cid})
        _timeline_joined(session, actor, cid, target, adopted=True)
    if target is None:
        return _create(session, actor=actor, customer_id=cid, device=None,
                       channel=change_channel(session, actor, channel))
    others = [c for c in mine if c is not target] + anonymous
    for other in others:
        other.active_for = None
    session.flush()
    target.customer_id, target.active_for = cid, cid
    if others:
        join(session, actor=actor, target=target, sources=others)
    session.flush()
    return target


def open_device_cart(session: Session, *, actor: Actor, device_id: str, channel: str | None) -> Cart:
    """Return the active cart of an anonymous device, or of the customer it was identified as."""
    device = device_value(device_id)
    owner = device_owner(session, device)
    if owner is not None:
        return open_customer_cart(session, actor=actor, customer_id=owner, channel=channel)
    if actor.role is Role.CUSTOMER:
        raise errors.not_your_cart()
    found = session.scalar(select(Cart).where(Cart.active_device == device))
    return found or _create(session, actor=actor, customer_id=None, device=device,
                            channel=change_channel(session, actor, channel))


def open_walk_in_cart(session: Session, *, actor: Actor, channel: str | None) -> Cart:
    """Open an anonymous cart tied to no device (a walk-in at the store's order station)."""
    if actor.role is Role.CUSTOMER:
        raise errors.not_your_cart()
    return _create(session, actor=actor, customer_id=None, device=None, channel=change_channel(session, actor, channel))


def open_cart(session: Session, *, actor: Actor, cart: Cart) -> Cart:
    """The cart as it should be seen: an active cart joined with the person's other carts first."""
    authorise(session, actor, cart)
    if cart.status != "active":
        return cart
    if cart.customer_id is not None:
        return open_customer_cart(session, actor=actor, customer_id=cart.customer_id)
    owner = device_owner(session, cart.device_id) if cart.device_id else None
    if owner is not None:
        return open_customer_cart(session, actor=actor, customer_id=owner)
    return cart


def _create(session: Session, *, actor: Actor, customer_id: int | None, device: str | None, channel: str) -> Cart:
    """Insert the cart unless another request made the same customer's or device's cart a moment ago."""
    now = utcnow()
    conflict = ["active_for"] if customer_id is not None else ["active_device"] if device is not None else ["token"]
    token = new_token()
    insert_ignore(session, Cart.__table__, [{
        "token": token, "status": "active", "customer_id": customer_id, "active_for": customer_id,
        "device_id": device, "active_device": device, "channel": channel, "order_ids": [], "created_at": now,
        "updated_at": now}], conflict=conflict)
    where = (Cart.active_for == customer_id) if customer_id is not None else \
        (Cart.active_device == device) if device is not None else (Cart.token == token)
    cart = session.scalars(select(Cart).where(where).execution_options(populate_existing=True)).one()
    if cart.token == token:
        session.info.setdefault("carts_created", set()).add(cart.id)
        audit.record(session, actor, "cart.created", "cart", str(cart.id),
                     {"customer_id": customer_id, "device": mask("device_id", device) if device else None,
                      "channel": channel})
        emit(session, cart_event(cart, "created"))
    return cart


def was_created(session: Session, cart: Cart) -> bool:
    """Whether this unit of work made the cart."""
    return cart.id in session.info.get("carts_created", set())


# --- joining ------------------------------------------------------------------------------------------------


def join(session: Session, *, actor: Actor, target: Cart, sources: list[Cart]) -> None:
    """Join carts into `target`: same SKU adds up, other lines move in with their channel; sources end merged."""
    holds.release_all(session, actor=actor, carts=[target, *sources], reason="carts joined")
    source_ids = [c.id for c in sources]
    theirs = list(session.scalars(select(CartLine).where(CartLine.cart_id.in_(source_ids))))
    plan = plan_join([LineRef(x.id, x.product_id, x.quantity) for x in lines_of(session, target)],
                     [LineRef(x.id, x.product_id, x.quantity) for x in theirs])
    now = utcnow()
    gone = plan.folded + plan.dropped
    if gone:
        session.execute(delete(CartLine).where(CartLine.id.in_(gone)))
    if plan.moved:
        session.execute(update(CartLine).where(CartLine.id.in_(plan.moved)).values(cart_id=target.id,
                                                                                   updated_at=now))
    for line_id, quantity in plan.new_quantities.items():
        session.execute(update(CartLine).where(CartLine.id == line_id).values(quantity=quantity, updated_at=now))
    for source in sources:
        source.status, source.merged_into_id = "merged", target.id
        source.active_for = source.active_device = None
        if source.customer_id is None:
            source.customer_id = target.customer_id
        if target.pickup_location_id is None:
            target.pickup_location_id = source.pickup_location_id
        audit.record(session, actor, "cart.merged", "cart", str(source.id), {"into": target.id})
    target.updated_at = now
    session.flush()
    session.expire_all()
    audit.record(session, actor, "cart.joined", "cart", str(target.id),
                 {"carts": source_ids, "lines_moved": len(plan.moved), "lines_added_up": len(plan.folded),
                  "lines_dropped": len(plan.dropped), "capped": plan.capped})
    emit(session, cart_event(target, "joined", {"carts": source_ids}))
    if target.customer_id is not None:
        for source in sources:
            _timeline_joined(session, actor, target.customer_id, source, adopted=False, into=target)


def _timeline_joined(session: Session, actor: Actor, customer_id: int, cart: Cart, *, adopted: bool,
                     into: Cart | None = None) -> None:
    source = f"from device {mask('device_id', cart.device_id)}" if cart.device_id else f"{cart.id}"
    summary = (f"Cart {source} is now the customer's cart" if adopted
               else f"Cart {source} joined cart {into.id if into else ''}")
    add_timeline(session, customer_id, kind="cart_joined", summary=summary, actor=actor,
                 data={"cart_id": (into or cart).id, "from_cart_id": cart.id})


def assign(session: Session, *, actor: Actor, cart: Cart, customer_id: int, channel: str | None) -> Cart:
    """Give an anonymous cart to a customer: it joins the customer's cart (or becomes it)."""
    locked = lock(session, cart)
    profile = resolve(session, customer_id)
    require_active(profile)
    if locked.customer_id is not None:
        if resolve(session, locked.customer_id).id != profile.id:
            raise errors.cart_has_customer(locked.id)
        return open_customer_cart(session, actor=actor, customer_id=profile.id)
    change_channel(session, actor, channel, locked)
    locked.customer_id, locked.active_device = profile.id, None
    session.flush()
    audit.record(session, actor, "cart.assigned", "cart", str(locked.id), {"customer_id": profile.id})
    return open_customer_cart(session, actor=actor, customer_id=profile.id)


# --- lines --------------------------------------------------------------------------------------------------


def lock(session: Session, cart: Cart) -> Cart:
    """The cart row locked for a change (two channels changing one cart take turns); 409 unless active."""
    locked = session.scalars(select(Cart).where(Cart.id == cart.id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    if locked.status != "active":
        raise errors.cart_not_active(locked.id, locked.status)
    return locked


def lines_of(session: Session, cart: Cart) -> list[CartLine]:
    return list(session.scalars(select(CartLine).where(CartLine.cart_id == cart.id).order_by(CartLine.id)))


def cart_event(cart: Cart, change: str, extra: dict[str, object] | None = None) -> Event:
    return Event("cart.updated", "cart", str(cart.id), {"cart_id": cart.id, "customer_id": cart.customer_id,
                                                        "change": change, **(extra or {})})


# --- the person's other data --------------------------------------------------------------------------------


def erase_carts(session: Session, profile_ids: list[int]) -> None:
    """Erasure: carts of erased people lose their lines and device ids, and any hold is released."""
    carts = list(session.scalars(select(Cart).where(Cart.customer_id.in_(profile_ids)).order_by(Cart.id)
                                 .with_for_update()))
    if not carts:
        return
    holds.release_all(session, actor=SYSTEM, carts=[c for c in carts if c.status == "active"], reason="erased")
    session.execute(delete(CartLine).where(CartLine.cart_id.in_([c.id for c in carts])))
    for cart in carts:
        if cart.status == "active":
            cart.status, cart.active_for, cart.active_device = "erased", None, None
        cart.device_id = None
    session.flush()


merging.register_owned(Cart.__table__, "customer_id")
privacy.register_eraser(erase_carts)
