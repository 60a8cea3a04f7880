"""Stock movements: receipts, adjustments, counts and the expiry sweep.

Each use case locks the level rows it touches (in location, product order), changes lots and
totals together, appends one ledger row per lot it changed and emits `stock.changed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.catalog.service import get_product
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Invalid
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor
from omniretail.inventory import allocation
from omniretail.inventory.levels import (
    lock_level,
    lots_of,
    mark_expired_lots,
    refresh_next_expiry,
    safety_stock_of,
    sku_of,
    view,
)
from omniretail.inventory.models import LedgerEntry, StockCount, StockCountLine, StockLevel, StockLot
from omniretail.locations.models import Location
from omniretail.locations.service import get_location

#: reason: sign it takes (+1 adds units, -1 removes them, 0 either)
ADJUSTMENT_REASONS = {"damage": -1, "theft": -1, "expired": -1, "found": +1, "count": 0, "correction": 0}


@dataclass(frozen=True)
class Cause:
    type: str | None = None
    id: str | None = None


def current_date() -> date:
    """Today's date (UTC). Expiry dates are calendar dates; a lot expires after its date."""
    return utcnow().date()


def resolve(session: Session, location_id: str, sku: str, *, location_field: str = "location_id",
            sku_field: str = "sku") -> tuple[Location, Product]:
    location = get_location(session, location_id, field=location_field)
    product = get_product(session, sku, field=sku_field)
    return location, product


def ledger(session: Session, actor: Actor, level: StockLevel, lot: StockLot | None, delta: int, kind: str,
           reason: str | None = None, cause: Cause = Cause()) -> None:
    session.add(LedgerEntry(at=utcnow(), location_id=level.location_id, product_id=level.product_id,
                            lot_id=lot.id if lot else None, delta=delta, kind=kind, reason=reason, actor=actor.name,
                            channel=actor.channel, cause_type=cause.type, cause_id=cause.id))


def stock_changed(session: Session, level: StockLevel, sku: str, cause: str) -> None:
    available = allocation.available(on_hand=level.on_hand, reserved=level.reserved, expired=level.expired)
    emit(session, Event("stock.changed", "stock", f"{level.location_id}:{sku}", {
        "location_id": level.location_id, "sku": sku, "on_hand": level.on_hand, "reserved": level.reserved,
        "expired": level.expired, "available": available, "cause": cause}))
    watch_gift(session, level, session.get(Product, level.product_id))


def watch_gift(session: Session, level: StockLevel, product: Product | None) -> None:
    """A gift at or below its minimum stock at a location is running out: `stock.low` fires once on the way down."""
    if product is None or not product.is_gift or product.gift_min_stock is None:
        return
    safety = safety_stock_of(level, session.get(Location, level.location_id))
    # The same figure channels see (available-to-promise), so the event and the flag agree.
    available = allocation.available(on_hand=level.on_hand, reserved=level.reserved, expired=level.expired,
                                     safety_stock=safety)
    low = available <= product.gift_min_stock
    if low and not level.low:
        emit(session, Event("stock.low", "stock", f"{level.location_id}:{product.sku}", {
            "location_id": level.location_id, "sku": product.sku, "available": available,
            "min_stock": product.gift_min_stock, "policy": product.gift_low_policy}))
    level.low = low


def check_positive(quantity: int, field: str = "quantity") -> None:
    if quantity <= 0:
        raise Invalid("Quantity must be a positive whole number", field=field, code="invalid_quantity")


def receive(session: Session, *, actor: Actor, location_id: str, sku: str, quantity: int, lot: str | None,
            production_date: date | None = None, expiry_date: date | None = None, cause: Cause = Cause()) -> StockLot:
    """Receive units of a lot at a location."""
    check_positive(quantity)
    location, product = resolve(session, location_id, sku)
    actor.require_location(location.id)
    if product.perishable and expiry_date is None:
        raise Invalid(f"{sku} is perishable: a receipt needs its expiry date", field="expiry_date",
                      code="expiry_required")
    if production_date and expiry_date and expiry_date < production_date:
        raise Invalid("The expiry date is before the production date", field="expiry_date",
                      code="expiry_before_production")
    today = current_date()
    if allocation.is_expired(expiry_date, today):
        raise Invalid(f"The lot expired on {expiry_date}; it cannot be received as stock", field="expiry_date",
                      code="expired_on_receipt")
    lot_code = (lot or "").strip() or (f"{today:%Y%m%d}" if expiry_date is None else f"EXP{expiry_date:%Y%m%d}")
    level = lock_level(session, location.id, product.id)
    lots = lots_of(session, location.id, product.id)
    existing = next((x for x in lots if x.lot_code == lot_code), None)
    if existing is not None and (existing.expired or allocation.is_expired(existing.expiry_date, today)):
        raise Invalid(f"Lot {lot_code} of {sku} here expired on {existing.expiry_date}; it takes no more units",
                      field="lot", code="expired_on_receipt")
    if existing is not None and (existing.expiry_date, existing.production_date) != (expiry_date, production_date) \
            and (expiry_date is not None or production_date is not None):
        raise Conflict(f"Lot {lot_code} of {sku} here has other dates ({existing.production_date} / "
                       f"{existing.expiry_date})", code="lot_dates_conflict")
    return put_away(session, actor=actor, level=level, lots=lots, sku=sku, lot_code=lot_code, quantity=quantity,
                    production_date=production_date, expiry_date=expiry_date, kind="receipt", cause=cause,
                    today=today, existing=existing)


def put_away(session: Session, *, actor: Actor, level: StockLevel, lots: list[StockLot], sku: str, lot_code: str,
             quantity: int, production_date: date | None, expiry_date: date | None, kind: str, cause: Cause,
             today: date, existing: StockLot | None = None) -> StockLot:
    """Add units to a lot of a locked level (made if new); units of a lot already past expiry count as expired."""
    if existing is None:
        existing = StockLot(location_id=level.location_id, product_id=level.product_id, lot_code=lot_code,
                            quantity=0, production_date=production_date, expiry_date=expiry_date, expired=False,
                            received_at=utcnow())
        session.add(existing)
        session.flush()
        lots.append(existing)
    if not existing.expired and allocation.is_expired(existing.expiry_date, today):
        existing.expired = True
        level.expired += existing.quantity
    existing.quantity += quantity
    level.on_hand += quantity
    if existing.expired:
        level.expired += quantity
    refresh_next_expiry(level, lots, today)
    ledger(session, actor, level, existing, quantity, kind, cause=cause)
    stock_changed(session, level, sku, kind)
    return existing


def adjust(session: Session, *, actor: Actor, location_id: str, sku: str, quantity: int, reason: str,
           lot: str | None = None, note_cause: Cause = Cause(), kind: str = "adjustment") -> StockLevel:
    """Change on-hand stock by a signed quantity for a reason (damage, theft, found, expired, count, correction)."""
    if reason not in ADJUSTMENT_REASONS:
        raise Invalid(f"Unknown reason {reason!r}; use {', '.join(ADJUSTMENT_REASONS)}", field="reason",
                      code="invalid_reason")
    if quantity == 0:
        raise Invalid("An adjustment changes stock: quantity cannot be 0", field="quantity", code="invalid_quantity")
    sign = ADJUSTMENT_REASONS[reason]
    if sign and (quantity > 0) != (sign > 0):
        raise Invalid(f"A {reason} adjustment {'adds' if sign > 0 else 'removes'} units", field="quantity",
                      code="invalid_quantity")
    location, product = resolve(session, location_id, sku)
    actor.require_location(location.id)
    level = lock_level(session, location.id, product.id)
    today = current_date()
    lots = lots_of(session, location.id, product.id)
    if quantity > 0:
        target = _lot_for_found_units(session, product, level, lots, lot, today)
        target.quantity += quantity
        level.on_hand += quantity
        if target.expired:
            level.expired += quantity
        ledger(session, actor, level, target, quantity, kind, reason, note_cause)
    else:
        _remove(session, actor, level, lots, -quantity, reason, lot, today, kind, note_cause)
    refresh_next_expiry(level, lots, today)
    stock_changed(session, level, sku, kind)
    return level


def _lot_for_found_units(session: Session, product: Product, level: StockLevel, lots: list[StockLot],
                         lot_code: str | None, today: date) -> StockLot:
    if lot_code:
        found = next((x for x in lots if x.lot_code == lot_code), None)
        if found is None:
            raise Invalid(f"No lot {lot_code} of {product.sku} here", field="lot", code="unknown_lot")
        return found
    live = allocation.sellable([view(x) for x in lots], today)
    if live:
        return next(x for x in lots if x.id == live[-1].id)
    if product.perishable:
        raise Invalid(f"{product.sku} is perishable: found units need the lot they belong to", field="lot",
                      code="lot_required")
    code = f"FOUND{today:%Y%m%d}"
    reusable = next((x for x in lots if x.lot_code == code), None)
    if reusable is not None:
        return reusable
    created = StockLot(location_id=level.location_id, product_id=level.product_id, lot_code=code,
                       quantity=0, expired=False, received_at=utcnow())
    session.add(created)
    session.flush()
    lots.append(created)
    return created


def _remove(session: Session, actor: Actor, level: StockLevel, lots: list[StockLot], quantity: int, reason: str,
            lot_code: str | None, today: date, kind: str, cause: Cause) -> None:
    if lot_code:
        chosen = [x for x in lots if x.lot_code == lot_code]
        if not chosen:
            raise Invalid(f"No lot {lot_code} here", field="lot", code="unknown_lot")
    else:
        order = allocation.removal_order([view(x) for x in lots], today, expired_first=reason in ("expired", "count"))
        by_id = {x.id: x for x in lots}
        chosen = [by_id[v.id] for v in order]
    if sum(x.quantity for x in chosen) < quantity:
        raise Conflict(f"Only {sum(x.quantity for x in chosen)} units are here to remove", code="not_enough_on_hand",
                       on_hand=level.on_hand)
    plan, remaining = [], quantity
    for target in chosen:
        take = min(target.quantity, remaining)
        if take:
            plan.append((target, take))
            remaining -= take
    _refuse_if_reserved_units_go(level, lots, plan, today)
    for target, take in plan:
        target.quantity -= take
        level.on_hand -= take
        if target.expired:
            level.expired -= take
        ledger(session, actor, level, target, -take, kind, reason, cause)


def _refuse_if_reserved_units_go(level: StockLevel, lots: list[StockLot], plan: list[tuple[StockLot, int]],
                                 today: date) -> None:
    """Removing units may not leave reserved units without sellable stock behind them."""
    def live(lot: StockLot) -> bool:
        return not lot.expired and not allocation.is_expired(lot.expiry_date, today)

    sellable_before = sum(lot.quantity for lot in lots if live(lot))
    sellable_after = sellable_before - sum(take for lot, take in plan if live(lot))
    on_hand_after = level.on_hand - sum(take for _, take in plan)
    if on_hand_after < level.reserved or (sellable_after < level.reserved and sellable_after < sellable_before):
        raise Conflict(f"{level.reserved} units are reserved and only {sellable_before} sellable units are here; "
                       "release or re-source reservations first", code="stock_reserved", reserved=level.reserved)


def hand_out(session: Session, *, actor: Actor, location_id: str, sku: str, cause: Cause, quantity: int = 1,
             location_field: str = "location_id") -> StockLevel:
    """Hand units over free of charge (a gift, a reward), first-expired-first-out.

    Refused with 409 `gift_unavailable` (and nothing changed) while a gift here is running out under the
    `hide` policy (the figure channels see), or when fewer sellable units than asked are free of reservations.
    Who may hand out what where is the caller's decision.
    """
    check_positive(quantity)
    location = get_location(session, location_id, field=location_field)
    product = get_product(session, sku)
    level = lock_level(session, location.id, product.id)
    today = current_date()
    lots = lots_of(session, location.id, product.id)
    sellable = sum(lot.quantity for lot in allocation.sellable([view(x) for x in lots], today))
    if product.is_gift and product.gift_min_stock is not None and product.gift_low_policy == "hide":
        available = allocation.available(on_hand=level.on_hand, reserved=level.reserved,
                                         expired=level.on_hand - sellable,
                                         safety_stock=safety_stock_of(level, location))
        if available <= product.gift_min_stock:
            raise Conflict(f"{sku} is running out at {location.id} and is not handed out there now",
                           code="gift_unavailable", why="running_out")
    if sellable - level.reserved < quantity:
        raise Conflict(f"No unreserved unit of {sku} is at {location.id}", code="gift_unavailable",
                       why="out_of_stock", available=max(0, sellable - level.reserved))
    _remove(session, actor, level, lots, quantity, "gift", None, today, "hand_out", cause)
    refresh_next_expiry(level, lots, today)
    stock_changed(session, level, sku, "hand_out")
    return level


@dataclass(frozen=True)
class CountedLine:
    sku: str
    expected: int
    counted: int
    variance: int
    lot: str | None


def count(session: Session, *, actor: Actor, location_id: str, lines: list[tuple[str, int, str | None]]
          ) -> tuple[StockCount, list[CountedLine]]:
    """Record a cycle count; each variance becomes a `count` adjustment."""
    location = get_location(session, location_id, field="location_id")
    actor.require_location(location.id)
    if not lines:
        raise Invalid("A count has at least one line", field="lines", code="empty_count")
    seen: set[tuple[str, str | None]] = set()
    products: dict[int, Product] = {}
    for i, (sku, counted, lot) in enumerate(lines):
        if counted < 0:
            raise Invalid("A counted quantity cannot be negative", field=f"lines.{i}.counted", code="invalid_quantity")
        if (sku, lot) in seen:
            raise Invalid(f"{sku} is counted twice", field=f"lines.{i}.sku", code="duplicate_line")
        seen.add((sku, lot))
        products[i] = get_product(session, sku, field=f"lines.{i}.sku")
    record = StockCount(location_id=location.id, at=utcnow(), actor=actor.name)
    session.add(record)
    session.flush()
    results = []
    for i in sorted(products, key=lambda n: products[n].id):
        sku, counted, lot = lines[i]
        product = products[i]
        level = lock_level(session, location.id, product.id)
        if lot is None:
            expected = level.on_hand
        else:
            match = next((x for x in lots_of(session, location.id, product.id) if x.lot_code == lot), None)
            expected = match.quantity if match else 0
            if match is None and counted > 0:
                raise Invalid(f"No lot {lot} of {sku} here", field=f"lines.{i}.lot", code="unknown_lot")
        variance = counted - expected
        if variance:
            adjust(session, actor=actor, location_id=location.id, sku=sku, quantity=variance, reason="count",
                   lot=lot, note_cause=Cause("count", str(record.id)), kind="count")
        session.add(StockCountLine(count_id=record.id, product_id=product.id, lot_code=lot, expected=expected,
                                   counted=counted, variance=variance,
                                   variance_value_minor=variance * product.price_minor, currency=product.currency))
        results.append((i, CountedLine(sku, expected, counted, variance, lot)))
    return record, [line for _, line in sorted(results, key=lambda pair: pair[0])]


def sweep_expired(session: Session, *, actor: Actor, location_id: str | None = None,
                  today: date | None = None) -> list[tuple[StockLevel, StockLot]]:
    """Mark lots past their expiry date as expired; they stop counting as available and await write-off."""
    today = today or utcnow().date()
    query = select(StockLevel.location_id, StockLevel.product_id).where(StockLevel.next_expiry < today)
    if location_id is not None:
        query = query.where(StockLevel.location_id == location_id)
    marked = []
    for loc, product_id in sorted(session.execute(query).all()):
        level = lock_level(session, loc, product_id)
        for lot in mark_expired_lots(session, level, today):
            marked.append((level, lot))
        if marked and marked[-1][0] is level:
            stock_changed(session, level, sku_of(session, product_id), "expired")
    return marked


def set_safety_stock(session: Session, *, actor: Actor, location_id: str, sku: str, quantity: int | None) -> None:
    """Set the units of a SKU kept back from online orders at a location (None: the location's default)."""
    location, product = resolve(session, location_id, sku, location_field="location_id", sku_field="sku")
    actor.require_location(location.id)
    level = lock_level(session, location.id, product.id)
    before = level.safety_stock
    level.safety_stock = quantity
    level.updated_at = utcnow()
    audit.record(session, actor, "stock.safety_stock_set", "stock", f"{location.id}:{sku}",
                 {"safety_stock": {"from": before, "to": quantity}})
    stock_changed(session, level, sku, "safety_stock")
