"""Transfers between locations: requested → picked → in_transit → received, or cancelled.

Requesting reserves the units at the source; picking may come up short (the rest is given
back); shipping takes the lots out of the source first-expired-first-out and shows them as
inbound at the destination (visible, not available); receiving puts the lots away with their
codes and dates, partly if need be; closing records what never arrived as a discrepancy.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.catalog.service import get_product
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Invalid, NotFound
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor, Role
from omniretail.inventory import reservations
from omniretail.inventory.levels import lock_level, lots_of
from omniretail.inventory.models import Reservation, Transfer, TransferLine, TransferLot
from omniretail.inventory.service import Cause, check_positive, put_away
from omniretail.locations.service import get_location

NEXT = {"requested": {"picked", "cancelled"}, "picked": {"in_transit", "cancelled"},
        "in_transit": {"received"}, "received": set(), "cancelled": set()}


def _move(transfer: Transfer, to: str) -> None:
    if to not in NEXT[transfer.status]:
        raise Conflict(f"Transfer {transfer.id} is {transfer.status}; it cannot become {to}",
                       code="invalid_transition", transfer_status=transfer.status)
    transfer.status = to
    transfer.updated_at = utcnow()


def _event(session: Session, transfer: Transfer, type_: str, actor: Actor, changes: dict | None = None) -> None:
    data = {"transfer_id": transfer.id, "from_location_id": transfer.from_location_id,
            "to_location_id": transfer.to_location_id, "status": transfer.status, **(changes or {})}
    audit.record(session, actor, type_, "transfer", str(transfer.id), data)
    emit(session, Event(type_, "transfer", str(transfer.id), data))


def _either_end(actor: Actor, transfer: Transfer) -> None:
    if actor.role is Role.ASSOCIATE and not ({transfer.from_location_id, transfer.to_location_id} & actor.location_ids):
        actor.require_location(transfer.from_location_id)


def _lock_in_order(session: Session, keys: list[tuple[str, int]]) -> None:
    """Lock every level a step touches up front, in the one global order, so transfers cannot deadlock."""
    for location_id, product_id in sorted(set(keys)):
        lock_level(session, location_id, product_id)


def get_transfer(session: Session, transfer_id: int) -> Transfer:
    """Return a transfer or raise `unknown_transfer`."""
    transfer = session.get(Transfer, transfer_id)
    if transfer is None:
        raise NotFound(f"No transfer {transfer_id}", code="unknown_transfer")
    return transfer


def lines_of(session: Session, transfer: Transfer) -> list[tuple[TransferLine, str]]:
    return [(line, sku) for line, sku in session.execute(
        select(TransferLine, Product.sku).join(Product, Product.id == TransferLine.product_id)
        .where(TransferLine.transfer_id == transfer.id).order_by(TransferLine.id))]


def request(session: Session, *, actor: Actor, from_location_id: str, to_location_id: str,
            lines: list[tuple[str, int]], reason: str | None = None) -> Transfer:
    """Ask for units to move; they are reserved at the source (409 `insufficient_stock` if not there)."""
    source = get_location(session, from_location_id, field="from_location_id")
    target = get_location(session, to_location_id, field="to_location_id")
    if source.id == target.id:
        raise Invalid("A transfer goes between two different locations", field="to_location_id",
                      code="same_location")
    if not lines:
        raise Invalid("A transfer has at least one line", field="lines", code="empty_transfer")
    products = []
    for i, (sku, quantity) in enumerate(lines):
        check_positive(quantity, f"lines.{i}.quantity")
        product = get_product(session, sku, field=f"lines.{i}.sku")
        if product.id in {p.id for p, _ in products}:
            raise Invalid(f"{sku} is on the transfer twice", field=f"lines.{i}.sku", code="duplicate_line")
        products.append((product, quantity))
    now = utcnow()
    transfer = Transfer(from_location_id=source.id, to_location_id=target.id, status="requested", reason=reason,
                        created_at=now, updated_at=now, actor=actor.name)
    _either_end(actor, transfer)
    session.add(transfer)
    session.flush()
    for product, quantity in products:
        session.add(TransferLine(transfer_id=transfer.id, product_id=product.id, requested=quantity, picked=0,
                                 shipped=0, received=0, discrepancy=0))
    reservations.reserve(session, actor=_as_system(actor), owner_type="transfer", owner_id=str(transfer.id),
                         lines=[reservations.Line(source.id, p.sku, q) for p, q in products],
                         reason=f"transfer to {target.id}")
    _event(session, transfer, "transfer.requested", actor)
    return transfer


def _as_system(actor: Actor) -> Actor:
    # The transfer checked the caller's scope; its reservations are the transfer's own doing.
    return Actor(name=actor.name, role=Role.OPERATIONS, key_id=actor.key_id, channel=actor.channel)


def _reservation_for(session: Session, transfer: Transfer, product_id: int) -> Reservation | None:
    return session.scalar(select(Reservation).where(
        Reservation.owner_type == "transfer", Reservation.owner_id == str(transfer.id),
        Reservation.product_id == product_id, Reservation.status == "active"))


def pick(session: Session, *, actor: Actor, transfer_id: int, picked: dict[str, int] | None = None) -> Transfer:
    """Record what was picked at the source (all requested units unless told otherwise)."""
    transfer = get_transfer(session, transfer_id)
    actor.require_location(transfer.from_location_id)
    _move(transfer, "picked")
    lines = lines_of(session, transfer)
    _lock_in_order(session, [(transfer.from_location_id, line.product_id) for line, _ in lines])
    unknown = set(picked or {}) - {sku for _, sku in lines}
    if unknown:
        raise Invalid(f"Not on this transfer: {', '.join(sorted(unknown))}", field="lines", code="unknown_line")
    for line, sku in lines:
        quantity = line.requested if picked is None else picked.get(sku, line.requested)
        if not 0 <= quantity <= line.requested:
            raise Invalid(f"{sku}: picked {quantity} of {line.requested} requested", field="lines",
                          code="invalid_quantity")
        line.picked = quantity
        reservation = _reservation_for(session, transfer, line.product_id)
        if reservation is None:
            continue
        if quantity == 0:
            reservations.release(session, actor=_as_system(actor), reservation_id=reservation.id, reason="short pick")
        elif quantity < reservation.quantity:
            reservations.shrink(session, actor=actor, reservation_id=reservation.id, quantity=quantity)
    _event(session, transfer, "transfer.picked", actor, {"picked": {sku: line.picked for line, sku in lines}})
    return transfer


def ship(session: Session, *, actor: Actor, transfer_id: int) -> Transfer:
    """Send the picked units: they leave the source lot by lot and are inbound at the destination."""
    transfer = get_transfer(session, transfer_id)
    actor.require_location(transfer.from_location_id)
    _move(transfer, "in_transit")
    lines = lines_of(session, transfer)
    _lock_in_order(session, [(loc, line.product_id) for line, _ in lines
                             for loc in (transfer.from_location_id, transfer.to_location_id)])
    for line, _ in lines:
        reservation = _reservation_for(session, transfer, line.product_id)
        if reservation is None or line.picked == 0:
            continue
        _, taken = reservations.take(session, actor=_as_system(actor), reservation_id=reservation.id,
                                     cause=Cause("transfer", str(transfer.id)), kind="transfer_out")
        for lot, quantity in taken:
            session.add(TransferLot(line_id=line.id, lot_code=lot.lot_code, production_date=lot.production_date,
                                    expiry_date=lot.expiry_date, quantity=quantity, received=0))
        line.shipped = line.picked
        destination = lock_level(session, transfer.to_location_id, line.product_id)
        destination.inbound += line.shipped
    _event(session, transfer, "transfer.shipped", actor)
    return transfer


def receive(session: Session, *, actor: Actor, transfer_id: int, received: dict[str, int] | None = None,
            close: bool = False) -> Transfer:
    """Put received units away at the destination (all outstanding unless told otherwise); `close` ends it,
    recording what never arrived as a discrepancy."""
    transfer = get_transfer(session, transfer_id)
    actor.require_location(transfer.to_location_id)
    if transfer.status != "in_transit":
        raise Conflict(f"Transfer {transfer.id} is {transfer.status}; only a transfer in transit is received",
                       code="invalid_transition", transfer_status=transfer.status)
    lines = lines_of(session, transfer)
    unknown = set(received or {}) - {sku for _, sku in lines}
    if unknown:
        raise Invalid(f"Not on this transfer: {', '.join(sorted(unknown))}", field="lines", code="unknown_line")
    today = utcnow().date()
    discrepancies = {}
    for line, sku in sorted(lines, key=lambda pair: pair[0].product_id):
        outstanding = line.shipped - line.received - line.discrepancy
        quantity = outstanding if received is None else received.get(sku, 0)
        if quantity < 0 or quantity > outstanding:
            raise Conflict(f"{sku}: {quantity} received but only {outstanding} are still on their way",
                           code="more_than_shipped", outstanding=outstanding)
        level = lock_level(session, transfer.to_location_id, line.product_id)
        if quantity:
            _put_lots_away(session, actor, transfer, line, sku, quantity, level, today)
            line.received += quantity
            level.inbound -= quantity
        if close and line.shipped - line.received - line.discrepancy:
            missing = line.shipped - line.received - line.discrepancy
            line.discrepancy += missing
            level.inbound -= missing
            discrepancies[sku] = missing
    if close or all(line.received + line.discrepancy == line.shipped for line, _ in lines):
        _move(transfer, "received")
    _event(session, transfer, "transfer.received" if transfer.status == "received" else "transfer.part_received",
           actor, {"received": {sku: line.received for line, sku in lines}, "discrepancies": discrepancies})
    return transfer


def _put_lots_away(session: Session, actor: Actor, transfer: Transfer, line: TransferLine, sku: str, quantity: int,
                   level, today) -> None:  # type: ignore[no-untyped-def]
    carried = list(session.scalars(select(TransferLot).where(TransferLot.line_id == line.id)))
    carried.sort(key=lambda t: (t.expiry_date is None, t.expiry_date or today, t.id))
    lots = lots_of(session, level.location_id, level.product_id)
    remaining = quantity
    for shipped in carried:
        take = min(shipped.quantity - shipped.received, remaining)
        if take <= 0:
            continue
        existing = next((x for x in lots if x.lot_code == shipped.lot_code), None)
        if existing is not None and (existing.expiry_date, existing.production_date) != \
                (shipped.expiry_date, shipped.production_date):
            code = f"{shipped.lot_code}-T{transfer.id}"
            existing = next((x for x in lots if x.lot_code == code), None)
        else:
            code = shipped.lot_code
        put_away(session, actor=actor, level=level, lots=lots, sku=sku, lot_code=code, quantity=take,
                 production_date=shipped.production_date, expiry_date=shipped.expiry_date, kind="transfer_in",
                 cause=Cause("transfer", str(transfer.id)), today=today, existing=existing)
        shipped.received += take
        remaining -= take
        if remaining == 0:
            break


def cancel(session: Session, *, actor: Actor, transfer_id: int, reason: str | None = None) -> Transfer:
    """Call off a transfer that has not left; its reserved units are given back."""
    transfer = get_transfer(session, transfer_id)
    _either_end(actor, transfer)
    _move(transfer, "cancelled")
    _lock_in_order(session, [(transfer.from_location_id, line.product_id) for line, _ in lines_of(session, transfer)])
    for reservation in reservations.reservations_of(session, owner_type="transfer", owner_id=str(transfer.id)):
        if reservation.status == "active":
            reservations.release(session, actor=_as_system(actor), reservation_id=reservation.id, reason=reason)
    _event(session, transfer, "transfer.cancelled", actor, {"reason": reason})
    return transfer


def list_transfers(session: Session, *, limit: int, after_id: int = 0, status: str | None = None,
                   location_id: str | None = None) -> list[Transfer]:
    """Transfers, oldest first, by status and location (either end)."""
    query = select(Transfer).where(Transfer.id > after_id)
    if status is not None:
        query = query.where(Transfer.status == status)
    if location_id is not None:
        query = query.where(or_(Transfer.from_location_id == location_id, Transfer.to_location_id == location_id))
    return list(session.scalars(query.order_by(Transfer.id).limit(limit)))


