"""Orders from every channel: placed with every unit reserved or refused with nothing written, inspected,
confirmed automatically or held for staff, then confirmed or cancelled; read by whoever may see them.

Each use case runs in the caller's transaction. Placing an order writes the order, its lines, its timeline
(the customer's too), audit entries and outbox events first and reserves stock last, so the level rows of a
hot SKU stay locked only from their guarded UPDATE to the commit. A sale paid and handed over at the till
(fulfilment `in_store`) is recorded as a completed order: reserved and at once consumed at that store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from omniretail.catalog.service import products_by_skus
from omniretail.channels.service import check_channel
from omniretail.core.clock import utcnow
from omniretail.core.config import Settings, get_settings
from omniretail.core.errors import Conflict, Forbidden, Invalid, NotFound
from omniretail.core.money import MAX_MINOR_UNITS
from omniretail.core.schemas import MAX_QUANTITY
from omniretail.core.security import Actor, Role
from omniretail.customers.models import Profile
from omniretail.customers.profiles import authorise, resolve
from omniretail.inventory import reservations
from omniretail.inventory.models import Reservation
from omniretail.inventory.service import Cause, check_positive
from omniretail.locations import capacity
from omniretail.orders import history, inspection, placement, states
from omniretail.orders.facts import gather, remember_verified
from omniretail.orders.models import Order, OrderEvent, OrderItem
from omniretail.orders.schemas import FulfilmentIn, PaymentIn
from omniretail.sourcing import live
from omniretail.sourcing import service as sourcing
from omniretail.sourcing.models import SourcingDecision

MAX_LINES = 200


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    channel: str | None = None  # the channel that added the line (a cart line); the order's channel if None


def thresholds(settings: Settings, currency: str) -> inspection.Thresholds:
    """The inspection rules and limits in force, the new-customer limit in minor units of `currency`."""
    limit = settings.order_new_customer_limit.scaleb(get_currency_precision(currency))
    return inspection.Thresholds(enabled=inspection.parse_rules(settings.order_inspection_rules),
                                 repeat_window_minutes=settings.order_repeat_window_minutes,
                                 new_customer_limit=int(limit), max_line_quantity=settings.order_max_line_quantity,
                                 max_units=settings.order_max_units)


def stock_actor(actor: Actor) -> Actor:
    """The actor stock is reserved with on the order's behalf: who may order what where is this domain's
    decision (a customer or an associate selling the network's stock may not reserve directly)."""
    return replace(actor, role=Role.OPERATIONS, location_ids=frozenset())


def place_order(session: Session, *, actor: Actor, channel: str, customer_id: int, lines: list[OrderLine],
                fulfilment: FulfilmentIn, payment: PaymentIn, cart_id: str | None = None,
                origin_location_id: str | None = None, settings: Settings | None = None) -> Order:
    """Place an order at catalogue prices with every unit reserved (or refuse it, 409 `insufficient_stock`),
    inspect it, and confirm it or hold it for staff."""
    return place(session, actor=actor, channel=channel, customer_id=customer_id, lines=lines, fulfilment=fulfilment,
                 payment=payment, cart_id=cart_id, origin_location_id=origin_location_id, settings=settings).order


@dataclass(frozen=True)
class Placed:
    """A new order with the rows written for it, so it can be answered without reading them back."""

    order: Order
    items: list[dict[str, Any]]
    allocations: list[tuple[str, str, int, str]]  # (location_id, sku, quantity, status)


def place(session: Session, *, actor: Actor, channel: str, customer_id: int, lines: list[OrderLine],
          fulfilment: FulfilmentIn, payment: PaymentIn, cart_id: str | None = None,
          origin_location_id: str | None = None, settings: Settings | None = None) -> Placed:
    """Place an order (as `place_order`) and return what was written for it."""
    check_channel(session, channel)
    check_channel_scope(actor, channel)
    profile = _customer(session, actor, customer_id)
    products = products_by_skus(session, sorted({line.sku for line in lines}))
    items = line_items(lines, channel, products, lambda code, field: check_channel(session, code, field=field))
    how = placement.fulfilment_of(placement.locator(session), actor, fulfilment, payment, origin_location_id)
    product_ids = {p.sku: p.id for _, p in items}
    now = utcnow()
    candidates = placement.candidate_rows(session, product_ids.values(), transfers=how.allow_transfer, at=now) \
        if how.location is None or how.allow_transfer else []
    settings = settings or get_settings()
    draft = decide(actor=actor, channel=channel, customer_id=profile.id, items=items, how=how, payment=payment,
                   candidates=candidates, cart_id=cart_id, settings=settings, now=now,
                   facts=lambda **known: gather(session, customer_id=profile.id, now=now, **known),
                   bid_prices=live.current(session, settings) if candidates else None)
    order = draft.order
    session.add(order)
    session.flush()
    rows = draft.item_rows(order.id)
    session.execute(insert(OrderItem.__table__), rows)
    if draft.decision is not None:
        session.execute(insert(SourcingDecision.__table__), draft.decision_rows(order.id, now))
    history.record(session, actor=actor, order=order, steps=draft.steps, channel=channel, units=draft.units,
                   created=draft.created)
    made = reservations.reserve(session, actor=stock_actor(actor), lines=draft.plan, owner_type="order",
                                owner_id=str(order.id), reason=f"order {order.id}",
                                respect_safety_stock=how.type != "in_store")
    if how.type == "delivery":  # guarded: a day another order filled meanwhile means sourcing again (TryAgain)
        # Counted on each location's day the units were reserved (a cancel gives them back by the same rule).
        timezones = {row.location_id: row.timezone for row in candidates}
        capacity.take(session, capacity.units_by_location(draft.plan),  # (the sourcing engine saw the limits)
                      {r.location_id: capacity.day_at(timezones[r.location_id], r.created_at)
                       for r in made if r.location_id in timezones},
                      limits={row.location_id: row.daily_capacity for row in candidates} if draft.decision else None)
    status = "active"
    if how.type == "in_store":
        status = "consumed"
        for reservation in made:
            reservations.consume(session, actor=stock_actor(actor), reservation_id=reservation.id,
                                 cause=Cause("order", str(order.id)))
    skus = {product.id: product.sku for _, product in items}
    return Placed(order, rows, [(r.location_id, skus[r.product_id], r.quantity, status) for r in made])


def check_channel_scope(actor: Actor, channel: str) -> None:
    if actor.role is Role.INTEGRATION and actor.channel != channel:
        raise Forbidden(f"This key places orders for channel {actor.channel!r} only", code="channel_out_of_scope")


@dataclass(frozen=True)
class Draft:
    """A new order decided but not written: the order row (without its id), its steps and where its units go."""

    order: Order
    items: list[tuple[OrderLine, Any]]
    steps: list[tuple[str | None, str]]
    plan: list[reservations.Line]
    units: int
    created: dict[str, Any]
    decision: Any = None  # the sourcing decision of a delivery sourced by cost

    def decision_rows(self, order_id: int, now: datetime) -> list[dict[str, Any]]:
        return [sourcing.decision_row(order_id, self.decision, now)] if self.decision is not None else []

    def item_rows(self, order_id: int) -> list[dict[str, Any]]:
        return [{"order_id": order_id, "line_no": n, "product_id": product.id, "sku": product.sku,
                 "name": product.name, "quantity": line.quantity, "unit_price_minor": product.price_minor,
                 "currency": product.currency, "channel": line.channel or self.order.channel}
                for n, (line, product) in enumerate(self.items, 1)]


def decide(*, actor: Actor, channel: str, customer_id: int, items: list[tuple[OrderLine, Any]],
           how: placement.Fulfilment, payment: PaymentIn, candidates: Any, cart_id: str | None, settings: Settings,
           now: datetime, facts: Callable[..., inspection.OrderFacts], bid_prices: Any = None) -> Draft:
    """Price, size, place and inspect a new order from what was read for it; `facts(...)` gathers what
    inspection needs to know (given the order's fulfilment, payment, lines, total and address); `bid_prices`
    (`sourcing.live`) guide the default sourcing policy."""
    currency = items[0][1].currency
    total = sum(product.price_minor * line.quantity for line, product in items)
    if total > MAX_MINOR_UNITS:
        raise Invalid("The order's total is too large", field="lines", code="order_too_large")
    demand: dict[str, int] = {}
    for line, product in items:
        demand[product.sku] = demand.get(product.sku, 0) + line.quantity
    for sku, quantity in demand.items():
        if quantity > MAX_QUANTITY:
            raise Invalid(f"At most {MAX_QUANTITY} units of {sku} in one order", field="lines",
                          code="invalid_quantity")
    placed = placement.plan(how, demand, {p.sku: p.id for _, p in items}, candidates, channel=channel,
                            settings=settings, prices=bid_prices)
    quantities = [(product.sku, line.quantity) for line, product in items]
    if how.type == "in_store":
        reasons: list[inspection.HoldReason] = []
        steps = [(None, states.CREATED), (states.CREATED, states.COMPLETED)]
    else:
        known = facts(fulfilment=how.type, payment_status=payment.status, lines=quantities, total_minor=total,
                      address=how.address)
        reasons = inspection.inspect(known, thresholds(settings, currency))
        final = states.ON_HOLD if reasons else states.CONFIRMED
        steps = [(None, states.CREATED), *states.path(states.CREATED, states.INSPECTING, final)]
    order = Order(channel=channel, customer_id=customer_id, status=steps[-1][1], fulfilment_type=how.type,
                  location_id=how.location.id if how.location else None, origin_location_id=how.origin_location_id,
                  delivery_address=how.address, payment_status=payment.status, payment_method=payment.method,
                  total_minor=total, currency=currency, hold_reasons=[asdict(r) for r in reasons],
                  lines_key=inspection.lines_key(quantities), cart_id=cart_id, actor=actor.name,
                  created_at=now, updated_at=now)
    return Draft(order, items, steps, placed.lines, sum(q for _, q in quantities),
                 {"lines": [{"sku": s, "quantity": q} for s, q in quantities], "cart_id": cart_id}, placed.decision)


def _customer(session: Session, actor: Actor, customer_id: int) -> Profile:
    try:
        profile = resolve(session, customer_id)
    except NotFound:
        raise Invalid(f"No customer {customer_id}", field="customer_id", code="unknown_customer") from None
    if profile.status != "active":
        raise Invalid(f"Customer {customer_id} was erased", field="customer_id", code="profile_erased")
    authorise(session, actor, profile)
    return profile


def line_items(lines: list[OrderLine], channel: str, products: dict[str, Any],
               check_line_channel: Callable[[str, str], None]) -> list[tuple[OrderLine, Any]]:
    """Each line with its product (`products` by SKU), refusing unknown SKUs, products no longer sold,
    bad quantities and mixed currencies; a line added through another channel has that channel checked."""
    if not lines:
        raise Invalid("An order has at least one line", field="lines", code="empty_order")
    if len(lines) > MAX_LINES:
        raise Invalid(f"An order has at most {MAX_LINES} lines", field="lines", code="too_many_lines")
    items = []
    for i, line in enumerate(lines):
        check_positive(line.quantity, f"lines.{i}.quantity")
        product = products.get(line.sku)
        if product is None:
            raise Invalid(f"No product with SKU {line.sku!r}", field=f"lines.{i}.sku", code="unknown_sku")
        if not product.active:
            raise Invalid(f"{line.sku} is no longer sold", field=f"lines.{i}.sku", code="sku_not_sold")
        if line.channel is not None and line.channel != channel:
            check_line_channel(line.channel, f"lines.{i}.channel")
        items.append((line, product))
    currencies = {product.currency for _, product in items}
    if len(currencies) > 1:
        raise Invalid(f"The lines are priced in {', '.join(sorted(currencies))}; an order has one currency",
                      field="lines", code="mixed_currencies")
    return items


# --- after placing ------------------------------------------------------------------------------------


def _may_see(session: Session, actor: Actor, order: Order) -> bool:
    if actor.role in (Role.ADMIN, Role.OPERATIONS, Role.AGENT):
        return True
    if actor.role is Role.ASSOCIATE:
        return bool({order.location_id, order.origin_location_id} & actor.location_ids)
    if actor.role is Role.INTEGRATION:
        return order.channel == actor.channel
    own = actor.customer_id
    return own is not None and own.isdigit() and _own_profile(session, own) == order.customer_id


def _own_profile(session: Session, customer_id: str) -> int | None:
    try:
        return resolve(session, int(customer_id)).id
    except NotFound:
        return None


def get_order(session: Session, *, actor: Actor, order_id: int, for_update: bool = False) -> Order:
    """Return an order the actor may see (404 `unknown_order`, 403 `order_out_of_scope`)."""
    order = session.get(Order, order_id, with_for_update=for_update or None)
    if order is None:
        raise NotFound(f"No order {order_id}", code="unknown_order")
    if not _may_see(session, actor, order):
        raise Forbidden(f"This key may not see order {order_id}", code="order_out_of_scope")
    return order


def _still_reserved(session: Session, order: Order) -> None:
    """Refuse to confirm an order whose reservation was released behind its back (409 `reservation_lost`)."""
    wanted: dict[int, int] = {}
    for product_id, quantity in session.execute(select(OrderItem.product_id, OrderItem.quantity).where(
            OrderItem.order_id == order.id)):
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    held: dict[int, int] = {}
    for product_id, quantity in session.execute(select(Reservation.product_id, Reservation.quantity).where(
            Reservation.owner_type == "order", Reservation.owner_id == str(order.id),
            Reservation.status == "active")):
        held[product_id] = held.get(product_id, 0) + quantity
    if held != wanted:
        raise Conflict(f"Order {order.id} no longer has all its units reserved; cancel it and order again",
                       code="reservation_lost")


def confirm_order(session: Session, *, actor: Actor, order_id: int, reason: str | None = None,
                  channel: str | None = None, remember_details: bool = True) -> Order:
    """Confirm an order held for inspection (its reservation is kept); remember the details staff verified."""
    order = get_order(session, actor=actor, order_id=order_id, for_update=True)
    states.check_move(order.status, states.CONFIRMED)
    if channel is not None:
        check_channel(session, channel)
    _still_reserved(session, order)
    now = utcnow()
    verified = remember_verified(session, actor=actor, order=order, now=now) \
        if remember_details and order.status == states.ON_HOLD else []
    before, order.status, order.updated_at = order.status, states.CONFIRMED, now
    history.record(session, actor=actor, order=order, steps=[(before, states.CONFIRMED)],
                   channel=channel or actor.channel, reason=reason, data={"verified": verified} if verified else None)
    return order


#: Called as (session, actor, order) when an order is cancelled, by the domains holding work for it (its
#: fulfilments), in the cancelling transaction.
CANCEL_HOOKS: list[Callable[[Session, Actor, Order], None]] = []


def move_order(session: Session, *, actor: Actor, order: Order, target: str, reason: str | None = None,
               channel: str | None = None, data: dict[str, Any] | None = None) -> Order:
    """Move a locked order one step to the status its fulfilment reached (409 `illegal_transition`)."""
    if order.status == target:
        return order
    steps = states.path(order.status, target)
    order.status, order.updated_at = target, utcnow()
    history.record(session, actor=actor, order=order, steps=steps, channel=channel or actor.channel, reason=reason,
                   data=data)
    return order


def cancel_order(session: Session, *, actor: Actor, order_id: int, reason: str | None = None,
                 channel: str | None = None) -> Order:
    """Cancel an order before its goods leave; its reserved units become available again."""
    order = get_order(session, actor=actor, order_id=order_id, for_update=True)
    states.check_move(order.status, states.CANCELLED)
    if channel is not None:
        check_channel(session, channel)
    active = [r for r in reservations.reservations_of(session, owner_type="order", owner_id=str(order.id))
              if r.status == "active"]
    released = 0
    for reservation in sorted(active, key=lambda r: (r.location_id, r.product_id, r.id)):  # the lock order
        reservations.release(session, actor=stock_actor(actor), reservation_id=reservation.id,
                             reason=f"order {order.id} cancelled")
        released += reservation.quantity
    if order.fulfilment_type == "delivery":  # its units will not be sent: today's counts get them back
        capacity.move(session, away=active)
    before, order.status, order.updated_at = order.status, states.CANCELLED, utcnow()
    for hook in CANCEL_HOOKS:
        hook(session, actor, order)
    history.record(session, actor=actor, order=order, steps=[(before, states.CANCELLED)],
                   channel=channel or actor.channel, reason=reason, data={"released_units": released})
    return order


def complete_order(session: Session, *, actor: Actor, order_id: int, reason: str | None = None) -> Order:
    """Record a confirmed order as handed over or delivered: every reserved unit leaves stock.
    (A stand-in until fulfilment — pick, pack, ship, pickup — lands; the demo uses it for past orders.)"""
    order = get_order(session, actor=actor, order_id=order_id, for_update=True)
    steps = states.path(order.status, states.IN_FULFILMENT, states.COMPLETED)
    active = [r for r in reservations.reservations_of(session, owner_type="order", owner_id=str(order.id))
              if r.status == "active"]
    for reservation in sorted(active, key=lambda r: (r.location_id, r.product_id, r.id)):
        reservations.consume(session, actor=stock_actor(actor), reservation_id=reservation.id,
                             cause=Cause("order", str(order.id)))
    order.status, order.updated_at = states.COMPLETED, utcnow()
    history.record(session, actor=actor, order=order, steps=steps, channel=actor.channel, reason=reason)
    return order


def list_orders(session: Session, *, actor: Actor, limit: int, status: str | None = None,
                customer_id: int | None = None, channel: str | None = None, location_id: str | None = None,
                after_id: int = 0, before_id: int | None = None, newest_first: bool = False) -> list[Order]:
    """List the orders the actor may see, oldest first (a queue: `status=on_hold`) or newest first."""
    query = select(Order)
    if status is not None:
        if status not in states.STATUSES:
            raise Invalid(f"Unknown status {status!r}", field="status", code="invalid_status")
        query = query.where(Order.status == status)
    if customer_id is not None:
        query = query.where(Order.customer_id == _own_or_asked(session, customer_id))
    if channel is not None:
        query = query.where(Order.channel == channel)
    if location_id is not None:
        query = query.where(or_(Order.location_id == location_id, Order.origin_location_id == location_id))
    if actor.role is Role.ASSOCIATE:
        scope = sorted(actor.location_ids)
        query = query.where(or_(Order.location_id.in_(scope), Order.origin_location_id.in_(scope)))
    elif actor.role is Role.INTEGRATION:
        query = query.where(Order.channel == actor.channel)
    elif actor.role is Role.CUSTOMER:
        own = _own_profile(session, actor.customer_id) if (actor.customer_id or "").isdigit() else None
        query = query.where(Order.customer_id == (own or 0))
    if newest_first:
        query = query.where(Order.id < before_id) if before_id is not None else query
        query = query.order_by(Order.id.desc())
    else:
        query = query.where(Order.id > after_id).order_by(Order.id)
    return list(session.scalars(query.limit(limit)))


def _own_or_asked(session: Session, customer_id: int) -> int:
    """Orders of a merged profile are the survivor's now."""
    try:
        return resolve(session, customer_id).id
    except NotFound:
        return customer_id


def order_timeline(session: Session, *, actor: Actor, order_id: int, limit: int, after_id: int = 0
                   ) -> tuple[Order, list[OrderEvent]]:
    """Return the order's state changes, oldest first."""
    order = get_order(session, actor=actor, order_id=order_id)
    events = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.id > after_id)
                             .order_by(OrderEvent.id).limit(limit))
    return order, list(events)
