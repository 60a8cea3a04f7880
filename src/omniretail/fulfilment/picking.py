"""Pick lists (the lots to take, soonest expiry first) and what happens when a store cannot find units: the
missing units are written off by a count adjustment there and the line goes to the next best location (a
delivery's units leave the short store's day count and count on the day of the location sending them now)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, DomainError, Invalid
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor
from omniretail.fulfilment import states
from omniretail.fulfilment.models import Fulfilment, FulfilmentLine
from omniretail.fulfilment.service import announce, get_fulfilment, lines_of, move, order_of
from omniretail.inventory import allocation, reservations
from omniretail.inventory.levels import lots_of, view
from omniretail.inventory.models import Reservation
from omniretail.inventory.service import Cause, adjust
from omniretail.locations import capacity
from omniretail.orders import placement, routing
from omniretail.orders import service as orders
from omniretail.orders.models import Order
from omniretail.sourcing import live
from omniretail.sourcing.service import promisable


def pick_list(session: Session, fulfilment: Fulfilment) -> list[dict[str, Any]]:
    """Each line with the lots to pick it from, first-expired-first-out (lots already expired are skipped)."""
    today = utcnow().date()
    out = []
    for line in lines_of(session, fulfilment.id):
        lots = lots_of(session, fulfilment.location_id, line.product_id)
        try:
            taken = allocation.allocate_fefo([view(x) for x in lots], line.quantity, today) if line.quantity else []
        except allocation.NotEnoughInLots:
            taken = []
        by_id = {x.id: x for x in lots}
        out.append({"sku": line.sku, "quantity": line.quantity, "picked": line.picked,
                    "lots": [{"lot": by_id[v.id].lot_code, "quantity": q, "expiry_date": by_id[v.id].expiry_date}
                             for v, q in taken]})
    return out


def record_pick(session: Session, *, actor: Actor, fulfilment_id: int, found: dict[str, int]) -> Fulfilment:
    """Record the units found for each SKU (others: all of them). A shortfall is written off at this location
    (count adjustment) and re-sourced: reserved at the next best location and sent from there in a fulfilment
    of its own; what no location holds is reported unfilled (event `fulfilment.short`)."""
    fulfilment = get_fulfilment(session, actor=actor, fulfilment_id=fulfilment_id, for_update=True)
    order = order_of(session, fulfilment)
    if fulfilment.status == states.CREATED:
        move(session, actor, fulfilment, states.PICKING)
    elif fulfilment.status != states.PICKING:
        raise Conflict(f"Fulfilment {fulfilment.id} is {fulfilment.status.replace('_', ' ')}; picks are recorded "
                       "while picking", code="illegal_transition", status_from=fulfilment.status,
                       status_to=states.PICKING)
    lines = lines_of(session, fulfilment.id)
    known = {line.sku for line in lines}
    for sku in found:
        if sku not in known:
            raise Invalid(f"{sku} is not in fulfilment {fulfilment.id}", field="lines", code="sku_not_in_fulfilment")
    short: dict[str, tuple[FulfilmentLine, int]] = {}
    for line in lines:
        units = found.get(line.sku, line.quantity)
        if not 0 <= units <= line.quantity:
            raise Invalid(f"Found 0..{line.quantity} units of {line.sku}", field="lines", code="invalid_quantity")
        line.picked = units
        if units < line.quantity:
            short[line.sku] = (line, line.quantity - units)
    for line, missing in short.values():
        _write_off(session, actor, fulfilment, line, missing)
    if short:
        resource(session, actor, order, fulfilment, {sku: missing for sku, (_, missing) in short.items()},
                 {sku: line.product_id for sku, (line, _) in short.items()})
    if all(line.quantity == 0 for line in lines):
        move(session, actor, fulfilment, states.CANCELLED)
    return fulfilment


def give_up(session: Session, actor: Actor, line: FulfilmentLine, units: int, reason: str) -> None:
    """Take `units` off a fulfilment line: its reservation shrinks by as many (is released when none are left),
    and a delivery's units are given back to its location's day (`locations.capacity`)."""
    stock = orders.stock_actor(actor)
    if line.reservation_id is not None:
        reservation = session.get(Reservation, line.reservation_id)
        if reservation is not None and units > 0 and _counted(session, reservation.owner_type, reservation.owner_id):
            capacity.move(session, away=[SimpleNamespace(location_id=reservation.location_id, quantity=units,
                                                         created_at=reservation.created_at)])
        if line.quantity - units > 0:
            reservations.shrink(session, actor=stock, reservation_id=line.reservation_id,
                                quantity=line.quantity - units)
        else:
            reservations.release(session, actor=stock, reservation_id=line.reservation_id, reason=reason)
            line.reservation_id = None
    line.quantity -= units


def _counted(session: Session, owner_type: str, owner_id: str) -> bool:
    """Whether a reservation's units count against its location's day: a delivery order's do, a pickup's not."""
    order = session.get(Order, int(owner_id)) if owner_type == "order" and owner_id.isdigit() else None
    return order is not None and order.fulfilment_type == "delivery"


def _write_off(session: Session, actor: Actor, fulfilment: Fulfilment, line: FulfilmentLine, missing: int) -> None:
    give_up(session, actor, line, missing, f"not found when picking order {fulfilment.order_id}")
    adjust(session, actor=orders.stock_actor(actor), location_id=fulfilment.location_id, sku=line.sku,
           quantity=-missing, reason="count", note_cause=Cause("order", str(fulfilment.order_id)))


def plan_elsewhere(session: Session, order: Any, missing: dict[str, int], product_ids: dict[str, int],
                   exclude_location_id: str) -> list[reservations.Line]:
    """Where an order's missing units can be reserved now, never at `exclude_location_id`: all of them where
    routing sends them, else as many of each SKU as the locations holding most of it have."""
    candidates = [row for row in placement.candidate_rows(session, product_ids.values())
                  if row.location_id != exclude_location_id]
    how = placement.Fulfilment("delivery", None, order.delivery_address or {}, None)
    try:
        return placement.plan(how, missing, product_ids, candidates, channel=order.channel,
                              prices=live.current(session)).lines
    except DomainError:
        plan = []
        # Not enough anywhere for some line: send what can be found, report the rest.
        for sku, units in missing.items():
            pool = [routing.Candidate(r.location_id, None, 0, {sku: promisable(r)})
                    for r in candidates if r.product_id == product_ids[sku]]
            for candidate in sorted(pool, key=lambda c: -c.available[sku]):
                take = min(units, candidate.available[sku])
                if take > 0:
                    plan.append(reservations.Line(candidate.location_id, sku, take))
                    units -= take
        return plan


def resource(session: Session, actor: Actor, order: Any, short_at: Fulfilment, missing: dict[str, int],
             product_ids: dict[str, int]) -> tuple[list[reservations.Line], dict[str, int]]:
    """Reserve an order's missing units where routing finds them now (never the location that came up short), in
    a fulfilment per location; returns where they went and what no location holds (event `fulfilment.short`)."""
    plan = plan_elsewhere(session, order, missing, product_ids, short_at.location_id)
    sent = {sku: 0 for sku in missing}
    by_location: dict[str, list[reservations.Line]] = {}
    for line in plan:
        by_location.setdefault(line.location_id, []).append(line)
    for location_id, lines in sorted(by_location.items()):
        made = reservations.reserve(session, actor=orders.stock_actor(actor), lines=lines, owner_type="order",
                                    owner_id=str(order.id), reason=f"order {order.id} re-sourced")
        kind = "pickup" if order.fulfilment_type == "pickup" and location_id == order.location_id else "delivery"
        now = utcnow()
        fulfilment = Fulfilment(order_id=order.id, location_id=location_id, kind=kind, status=states.CREATED,
                                created_at=now, updated_at=now)
        session.add(fulfilment)
        session.flush()
        for line, reservation in zip(lines, made, strict=True):
            session.add(FulfilmentLine(fulfilment_id=fulfilment.id, product_id=reservation.product_id, sku=line.sku,
                                       quantity=line.quantity, reservation_id=reservation.id))
            sent[line.sku] += line.quantity

        announce(session, actor, fulfilment, states.CREATED, {
            "lines": [{"sku": x.sku, "quantity": x.quantity} for x in lines], "resourced_from": short_at.id})
    if order.fulfilment_type == "delivery":  # sent from their new locations today (given back where short)
        capacity.move(session, to=capacity.units_by_location(plan))
    unfilled = {sku: units - sent[sku] for sku, units in missing.items() if units > sent[sku]}
    if unfilled:
        emit(session, Event("fulfilment.short", "order", str(order.id), {
            "order_id": order.id, "fulfilment_id": short_at.id, "customer_id": order.customer_id,
            "unfilled": [{"sku": sku, "quantity": units} for sku, units in sorted(unfilled.items())]}))
    return plan, unfilled


def unfilled_units(session: Session, order_id: int) -> dict[str, int]:
    """Units of the order no fulfilment holds any more (found nowhere when picking)."""
    from omniretail.orders.models import OrderItem

    wanted: dict[str, int] = {}
    items = select(OrderItem.sku, OrderItem.quantity).where(OrderItem.order_id == order_id)
    for sku, quantity in session.execute(items):
        wanted[sku] = wanted.get(sku, 0) + quantity
    for sku, quantity in session.execute(select(FulfilmentLine.sku, FulfilmentLine.quantity)
                                         .join(Fulfilment, Fulfilment.id == FulfilmentLine.fulfilment_id)
                                         .where(Fulfilment.order_id == order_id,
                                                Fulfilment.status != states.CANCELLED)):
        wanted[sku] = wanted.get(sku, 0) - quantity
    return {sku: units for sku, units in wanted.items() if units > 0}
