"""Fulfilments: a confirmed order is released to one fulfilment per location holding its units; each is picked,
packed and shipped (delivery) or made ready and collected at the store (pickup); the order's status follows.

Stock leaves at `ship` and `collect` (the order's reservations are consumed first-expired-first-out); an
uncollected pickup expires and its units become available again. Every move writes an audit entry and a
`fulfilment.<status>` event in its transaction.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.config import get_settings
from omniretail.core.db import Database
from omniretail.core.errors import Conflict, Forbidden, Invalid, NotFound
from omniretail.core.jobs import register_job
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor, Role
from omniretail.fulfilment import attribution, states
from omniretail.fulfilment.models import Fulfilment, FulfilmentLine
from omniretail.inventory import reservations, transfers
from omniretail.inventory.models import Reservation, Transfer
from omniretail.inventory.service import Cause
from omniretail.locations.models import Location
from omniretail.orders import service as orders
from omniretail.orders.models import Order
from omniretail.orders.states import CONFIRMED

#: Pickup codes avoid characters read alike (0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
STAFF = (Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE)
#: The worker releases confirmed orders this often, and looks for expired pickups this often.
RELEASE_SECONDS, EXPIRY_SECONDS = 5.0, 300.0
WORKER = Actor(name="worker", role=Role.OPERATIONS)


def announce(session: Session, actor: Actor, fulfilment: Fulfilment, status: str, extra: dict[str, Any] | None = None,
           changes: dict[str, Any] | None = None) -> None:
    data = {"fulfilment_id": fulfilment.id, "order_id": fulfilment.order_id, "location_id": fulfilment.location_id,
            "kind": fulfilment.kind, "status": status} | (extra or {})
    emit(session, Event(f"fulfilment.{status}", "order", str(fulfilment.order_id), data))
    audit.record(session, actor, f"fulfilment.{status}", "fulfilment", str(fulfilment.id), changes)


def move(session: Session, actor: Actor, fulfilment: Fulfilment, target: str,
          extra: dict[str, Any] | None = None) -> None:
    states.check_move(fulfilment.kind, fulfilment.status, target)
    before, fulfilment.status, fulfilment.updated_at = fulfilment.status, target, utcnow()
    if target in states.FINISHED:
        fulfilment.finished_at = fulfilment.updated_at
    announce(session, actor, fulfilment, target, extra, {"status": {"from": before, "to": target}})


def lines_of(session: Session, fulfilment_id: int) -> list[FulfilmentLine]:
    return list(session.scalars(select(FulfilmentLine).where(FulfilmentLine.fulfilment_id == fulfilment_id)
                                .order_by(FulfilmentLine.id)))


def fulfilments_of(session: Session, order_id: int) -> list[Fulfilment]:
    return list(session.scalars(select(Fulfilment).where(Fulfilment.order_id == order_id).order_by(Fulfilment.id)))


def get_fulfilment(session: Session, *, actor: Actor, fulfilment_id: int, for_update: bool = False) -> Fulfilment:
    """A fulfilment this actor may work on (404 `unknown_fulfilment`; associates: their stores only)."""
    fulfilment = session.get(Fulfilment, fulfilment_id, with_for_update=for_update or None)
    if fulfilment is None:
        raise NotFound(f"No fulfilment {fulfilment_id}", code="unknown_fulfilment")
    if actor.role not in STAFF:
        raise Forbidden(f"The {actor.role.value} role does not fulfil orders", code="role_forbidden")
    actor.require_location(fulfilment.location_id)
    return fulfilment


def order_of(session: Session, fulfilment: Fulfilment) -> Order:
    """The fulfilment's order, locked (whoever may work on a fulfilment may move its order along)."""
    order = session.get(Order, fulfilment.order_id, with_for_update=True)
    assert order is not None  # a foreign key
    return order


def _follow(session: Session, actor: Actor, order: Order, reason: str | None = None) -> None:
    """Move the (locked) order to the status its fulfilments imply."""
    target = states.order_status(f.status for f in fulfilments_of(session, order.id))
    if target is not None and target != order.status:
        orders.move_order(session, actor=actor, order=order, target=target, reason=reason)
        if target == "completed":
            attribution.earn_points(session, actor, order)


# --- release -------------------------------------------------------------------------------------------


def release(session: Session, *, actor: Actor, order_id: int) -> list[Fulfilment]:
    """Release a confirmed order to fulfilment: one fulfilment per location holding its units (a pickup order's
    at its store is the pickup), the sale credited to a store, the order in fulfilment. Releasing again
    answers the fulfilments made the first time."""
    order = orders.get_order(session, actor=actor, order_id=order_id, for_update=True)
    made = fulfilments_of(session, order.id)
    if made:
        return made
    if order.status != CONFIRMED:
        raise Conflict(f"Order {order.id} is {order.status.replace('_', ' ')}; only confirmed orders are released",
                       code="order_not_confirmed", status=order.status)
    made = _make_fulfilments(session, actor, order)
    attribution.credit_sale(session, order)
    orders.move_order(session, actor=actor, order=order, target="in_fulfilment", reason="released to fulfilment")
    return made


def _transfer_to_pickup(session: Session, actor: Actor, order: Order, source: str, reserved: list[Reservation],
                        skus: dict[int, str]) -> Fulfilment:
    """Units of a pickup held elsewhere travel to the pickup store first: the order's reservation there becomes
    the transfer's, and the pickup waits for the transfer to arrive (`arrivals`)."""
    stock = orders.stock_actor(actor)
    for reservation in reserved:
        reservations.release(session, actor=stock, reservation_id=reservation.id,
                             reason=f"order {order.id}: transferred to {order.location_id} for pickup")
    transfer = transfers.request(session, actor=stock, from_location_id=source, to_location_id=order.location_id,
                                 lines=[(skus[r.product_id], r.quantity) for r in reserved],
                                 reason=f"pickup of order {order.id}")
    now = utcnow()
    fulfilment = Fulfilment(order_id=order.id, location_id=order.location_id, kind="pickup",
                            status=states.AWAITING_TRANSFER, transfer_id=transfer.id, created_at=now, updated_at=now)
    session.add(fulfilment)
    session.flush()
    session.add_all([FulfilmentLine(fulfilment_id=fulfilment.id, product_id=r.product_id, sku=skus[r.product_id],
                                    quantity=r.quantity) for r in reserved])
    announce(session, actor, fulfilment, states.AWAITING_TRANSFER, {
        "transfer_id": transfer.id, "from_location_id": source,
        "lines": [{"sku": skus[r.product_id], "quantity": r.quantity} for r in reserved]})
    return fulfilment


def arrivals(session: Session, *, actor: Actor) -> list[int]:
    """Pickups whose transfer was received: their units are reserved for the order at the store and the
    pickup can be picked. Returns the fulfilments that became pickable."""
    waiting = list(session.scalars(
        select(Fulfilment).join(Transfer, Transfer.id == Fulfilment.transfer_id)
        .where(Fulfilment.status == states.AWAITING_TRANSFER, Transfer.status == "received")
        .order_by(Fulfilment.id).with_for_update(of=Fulfilment)))
    for fulfilment in waiting:
        lines = lines_of(session, fulfilment.id)
        made = reservations.reserve(session, actor=orders.stock_actor(actor), owner_type="order",
                                    owner_id=str(fulfilment.order_id), reason=f"order {fulfilment.order_id} pickup",
                                    lines=[reservations.Line(fulfilment.location_id, x.sku, x.quantity)
                                           for x in lines])
        for line, reservation in zip(lines, made, strict=True):
            line.reservation_id = reservation.id
        move(session, actor, fulfilment, states.CREATED, {"transfer_id": fulfilment.transfer_id})
    return [f.id for f in waiting]


def _make_fulfilments(session: Session, actor: Actor, order: Order) -> list[Fulfilment]:
    """One fulfilment per location holding the order's active reservations (a pickup's elsewhere: a transfer)."""
    made: list[Fulfilment] = []
    held = [r for r in reservations.reservations_of(session, owner_type="order", owner_id=str(order.id))
            if r.status == "active"]
    by_location: dict[str, list[Reservation]] = defaultdict(list)
    for reservation in held:
        by_location[reservation.location_id].append(reservation)
    skus = orders_skus(session, order.id)
    now = utcnow()
    for location_id, reserved in sorted(by_location.items()):
        if order.fulfilment_type == "pickup" and location_id != order.location_id:
            made.append(_transfer_to_pickup(session, actor, order, location_id, reserved, skus))
            continue
        kind = "pickup" if order.fulfilment_type == "pickup" else "delivery"
        fulfilment = Fulfilment(order_id=order.id, location_id=location_id, kind=kind, status=states.CREATED,
                                created_at=now, updated_at=now)
        session.add(fulfilment)
        session.flush()
        session.add_all([FulfilmentLine(fulfilment_id=fulfilment.id, product_id=r.product_id, sku=skus[r.product_id],
                                        quantity=r.quantity, reservation_id=r.id) for r in reserved])
        announce(session, actor, fulfilment, states.CREATED,
                 {"lines": [{"sku": skus[r.product_id], "quantity": r.quantity} for r in reserved]})
        made.append(fulfilment)
    return made


def replace_unpicked(session: Session, *, actor: Actor, order: Order) -> list[Fulfilment]:
    """After the order's units were reserved elsewhere (re-sourcing): its fulfilments not yet started are
    cancelled and made again from where its units are now."""
    for fulfilment in fulfilments_of(session, order.id):
        if fulfilment.status == states.CREATED:
            move(session, actor, fulfilment, states.CANCELLED, {"reason": "re-sourced"})
    return _make_fulfilments(session, actor, order)


def orders_skus(session: Session, order_id: int) -> dict[int, str]:
    from omniretail.orders.models import OrderItem

    items = select(OrderItem.product_id, OrderItem.sku).where(OrderItem.order_id == order_id)
    return {product_id: sku for product_id, sku in session.execute(items)}


def release_due(session: Session, *, actor: Actor, limit: int = 200) -> list[int]:
    """Release confirmed orders that have no fulfilment yet, oldest first (the worker's pass); returns their ids.
    Orders another worker is releasing are skipped."""
    query = (select(Order.id).where(Order.status == CONFIRMED, ~exists().where(Fulfilment.order_id == Order.id))
             .order_by(Order.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    for order_id in ids:
        release(session, actor=actor, order_id=order_id)
    return ids


# --- picking, packing, shipping ----------------------------------------------------------------------------


def start_picking(session: Session, *, actor: Actor, fulfilment_id: int) -> Fulfilment:
    """Start picking (the pick list names the lots, soonest expiry first)."""
    fulfilment = get_fulfilment(session, actor=actor, fulfilment_id=fulfilment_id, for_update=True)
    if fulfilment.status != states.PICKING:
        move(session, actor, fulfilment, states.PICKING)
    return fulfilment


def pack(session: Session, *, actor: Actor, fulfilment_id: int) -> Fulfilment:
    """Record the picked units packed."""
    fulfilment = get_fulfilment(session, actor=actor, fulfilment_id=fulfilment_id, for_update=True)
    move(session, actor, fulfilment, states.PACKED)
    return fulfilment


def _consume(session: Session, actor: Actor, fulfilment: Fulfilment) -> None:
    for line in lines_of(session, fulfilment.id):
        if line.reservation_id is not None and line.quantity > 0:
            reservations.consume(session, actor=orders.stock_actor(actor), reservation_id=line.reservation_id,
                                 cause=Cause("order", str(fulfilment.order_id)))


def ship(session: Session, *, actor: Actor, fulfilment_id: int, carrier: str | None = None,
         waybill: str | None = None) -> Fulfilment:
    """Hand a packed delivery to the carrier with its waybill: its units leave stock."""
    fulfilment = get_fulfilment(session, actor=actor, fulfilment_id=fulfilment_id, for_update=True)
    order = order_of(session, fulfilment)
    states.check_move(fulfilment.kind, fulfilment.status, states.SHIPPED)
    if not (waybill or "").strip():
        raise Invalid("A shipment has a waybill number", field="waybill", code="waybill_required")
    fulfilment.carrier, fulfilment.waybill = (carrier or "").strip() or None, waybill.strip() if waybill else None
    _consume(session, actor, fulfilment)
    move(session, actor, fulfilment, states.SHIPPED, {"carrier": fulfilment.carrier, "waybill": fulfilment.waybill})
    _follow(session, actor, order)
    return fulfilment


# --- pickups ------------------------------------------------------------------------------------------


def _new_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(Fulfilment.id).where(Fulfilment.pickup_code == code)) is None:
            return code


def ready(session: Session, *, actor: Actor, fulfilment_id: int, now: datetime | None = None) -> Fulfilment:
    """Put a pickup at the counter: the customer is told (event `fulfilment.ready`) with a pickup code, the
    store's hours and the day it expires."""
    fulfilment = get_fulfilment(session, actor=actor, fulfilment_id=fulfilment_id, for_update=True)
    order = order_of(session, fulfilment)
    states.check_move(fulfilment.kind, fulfilment.status, states.READY)
    now = now or utcnow()
    store = session.get(Location, fulfilment.location_id)
    fulfilment.pickup_code, fulfilment.ready_at = _new_code(session), now
    fulfilment.expires_at = now + timedelta(days=get_settings().pickup_hold_days)
    move(session, actor, fulfilment, states.READY, {
        "customer_id": order.customer_id, "pickup_code": fulfilment.pickup_code, "store": store.name if store else None,
        "opening_hours": store.opening_hours if store else {}, "expires_at": fulfilment.expires_at.isoformat()})
    _follow(session, actor, order)
    return fulfilment


def collect(session: Session, *, actor: Actor, code: str) -> Fulfilment:
    """Hand a pickup over against its code, at its store only (404 `unknown_pickup_code`, 403 at another
    store): its units leave stock and the order completes."""
    fulfilment = session.scalar(select(Fulfilment).where(Fulfilment.pickup_code == code.strip().upper(),
                                                         Fulfilment.status == states.READY).with_for_update())
    if fulfilment is None:
        raise NotFound("No pickup waits under this code", code="unknown_pickup_code")
    if actor.role not in STAFF:
        raise Forbidden(f"The {actor.role.value} role does not hand over pickups", code="role_forbidden")
    actor.require_location(fulfilment.location_id)
    order = order_of(session, fulfilment)
    _consume(session, actor, fulfilment)
    move(session, actor, fulfilment, states.COLLECTED)
    _follow(session, actor, order, reason="collected at the store")
    return fulfilment


def expire_pickups(session: Session, *, actor: Actor, now: datetime | None = None) -> list[int]:
    """Return the units of pickups left uncollected past their day to stock; an order whose every pickup
    expired is cancelled. Returns the fulfilments expired."""
    now = now or utcnow()
    due = list(session.scalars(select(Fulfilment).where(Fulfilment.status == states.READY,
                                                        Fulfilment.expires_at < now)
                               .order_by(Fulfilment.id).with_for_update()))
    for fulfilment in due:
        order = order_of(session, fulfilment)
        for line in lines_of(session, fulfilment.id):
            if line.reservation_id is not None and session.get(Reservation, line.reservation_id).status == "active":
                reservations.release(session, actor=orders.stock_actor(actor), reservation_id=line.reservation_id,
                                     reason=f"pickup of order {order.id} not collected")
        move(session, actor, fulfilment, states.EXPIRED)
        _follow(session, actor, order, reason="not collected in time")
    return [f.id for f in due]


def _cancel_fulfilments(session: Session, actor: Actor, order: Order) -> None:
    """An order cancelled before its goods left: its open fulfilments are cancelled too (orders released the
    units already)."""
    for fulfilment in fulfilments_of(session, order.id):
        if states.CANCELLED in states.TRANSITIONS[fulfilment.status]:
            if fulfilment.status == states.AWAITING_TRANSFER and fulfilment.transfer_id is not None:
                transfer = session.get(Transfer, fulfilment.transfer_id)
                if transfer is not None and transfer.status in ("requested", "picked"):
                    transfers.cancel(session, actor=orders.stock_actor(actor), transfer_id=transfer.id,
                                     reason=f"order {order.id} cancelled")
            move(session, actor, fulfilment, states.CANCELLED)


def _release_job(db: Database) -> int:
    with db.write() as session:
        return len(release_due(session, actor=WORKER))


def _arrivals_job(db: Database) -> int:
    with db.write() as session:
        return len(arrivals(session, actor=WORKER))


def _expiry_job(db: Database) -> int:
    with db.write() as session:
        return len(expire_pickups(session, actor=WORKER))


orders.CANCEL_HOOKS.append(_cancel_fulfilments)
register_job("fulfilment.release", _release_job, every_seconds=RELEASE_SECONDS)
register_job("fulfilment.arrivals", _arrivals_job, every_seconds=RELEASE_SECONDS)
register_job("fulfilment.expire_pickups", _expiry_job, every_seconds=EXPIRY_SECONDS)
