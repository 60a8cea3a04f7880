from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.core.clock import utcnow
from omniretail.core.deps import DB
from omniretail.core.errors import Invalid
from omniretail.core.idempotency import run_idempotent
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import MAX_QUANTITY, PROBLEM_RESPONSES, Money, RowId, json_response, problem
from omniretail.core.security import EVERYONE, Actor, Role, require
from omniretail.inventory import atp, fastpath, reservations, service
from omniretail.inventory.accuracy import accuracy_report
from omniretail.inventory.models import Reservation, StockLot
from omniretail.inventory.schemas import (
    AccuracyOut,
    AdjustmentIn,
    AvailabilityOut,
    CountIn,
    CountLineOut,
    CountOut,
    LevelOut,
    LocationAvailabilityOut,
    LotOut,
    ReceiptIn,
    ReceiptOut,
    ReleaseIn,
    ReservationIn,
    ReservationList,
    ReservationOut,
    SafetyStockIn,
    SweepOut,
    VarianceOut,
)
from omniretail.locations.hours import is_open

router = APIRouter(prefix="/api/v1", tags=["inventory"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_location`, `unknown_sku` or `unknown_reservation`")})

Mover = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION))]
Reserver = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION,
                                            Role.AGENT))]
Staff = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION, Role.AGENT))]
Operations = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS))]
Anyone = Annotated[Actor, Depends(require(*EVERYONE))]
CONFLICTS = {409: problem("`insufficient_stock` (with the short lines), `stock_reserved`, `not_enough_on_hand`, "
                          "`reservation_not_active`, `lot_dates_conflict`")}


def _lot(lot: StockLot, expired: bool) -> LotOut:
    return LotOut(lot=lot.lot_code, quantity=lot.quantity, production_date=lot.production_date,
                  expiry_date=lot.expiry_date, expired=expired)


def _level(session: Session, location_id: str, sku: str) -> LevelOut:
    d = atp.level_detail(session, location_id=location_id, sku=sku)
    return LevelOut(location_id=d.location_id, sku=d.sku, on_hand=d.on_hand, reserved=d.reserved, expired=d.expired,
                    inbound=d.inbound, safety_stock=d.safety_stock, available=d.available,
                    lots=[_lot(lot, expired) for lot, expired in d.lots])


def _reservation(session: Session, r: Reservation) -> ReservationOut:
    sku = session.get(Product, r.product_id).sku  # type: ignore[union-attr]
    return ReservationOut(id=r.id, location_id=r.location_id, sku=sku, quantity=r.quantity, status=r.status,
                          owner_type=r.owner_type, owner_id=r.owner_id, reason=r.reason, expires_at=r.expires_at,
                          created_at=r.created_at)


@router.post("/inventory/receipts", response_model=ReceiptOut, status_code=201, responses=CONFLICTS)
def receive(body: ReceiptIn, request: Request, db: DB, actor: Mover) -> Response:
    """Receive units of a lot (expiry date required for perishables). Accepts `Idempotency-Key`."""
    def use_case(s: Session) -> ReceiptOut:
        lot = service.receive(s, actor=actor, location_id=body.location_id, sku=body.sku, quantity=body.quantity,
                              lot=body.lot, production_date=body.production_date, expiry_date=body.expiry_date)
        level = _level(s, body.location_id, body.sku)
        return ReceiptOut(location_id=body.location_id, sku=body.sku, lot=_lot(lot, lot.expired),
                          on_hand=level.on_hand)

    return run_idempotent(request, db, actor, body, 201, use_case)


@router.post("/inventory/adjustments", response_model=LevelOut, status_code=201, responses=CONFLICTS)
def adjust(body: AdjustmentIn, request: Request, db: DB, actor: Mover) -> Response:
    """Change on-hand stock with a reason (damage, theft, found, expired write-off, count, correction).
    Accepts `Idempotency-Key`."""
    def use_case(s: Session) -> LevelOut:
        service.adjust(s, actor=actor, location_id=body.location_id, sku=body.sku, quantity=body.quantity,
                       reason=body.reason, lot=body.lot)
        return _level(s, body.location_id, body.sku)

    return run_idempotent(request, db, actor, body, 201, use_case)


@router.post("/inventory/counts", response_model=CountOut, status_code=201, responses=CONFLICTS)
def count(body: CountIn, request: Request, db: DB, actor: Mover) -> Response:
    """Record a cycle count: each line's variance is adjusted with reason `count`. Accepts `Idempotency-Key`."""
    def use_case(s: Session) -> CountOut:
        record, lines = service.count(s, actor=actor, location_id=body.location_id,
                                      lines=[(line.sku, line.counted, line.lot) for line in body.lines])
        return CountOut(id=record.id, location_id=record.location_id, at=record.at,
                        lines=[CountLineOut(sku=x.sku, lot=x.lot, expected=x.expected, counted=x.counted,
                                            variance=x.variance) for x in lines])

    return run_idempotent(request, db, actor, body, 201, use_case)


@router.post("/inventory/reservations", response_model=ReservationList, status_code=201, responses=CONFLICTS)
def reserve(body: ReservationIn, request: Request, db: DB, actor: Reserver) -> Response:
    """Reserve every line or none (409 `insufficient_stock` names the short lines and what is available).
    Accepts `Idempotency-Key`."""
    if len(body.lines) == 1 and not request.headers.get("Idempotency-Key"):
        # Nothing to remember for a retry: the single-line fast path (one statement on PostgreSQL).
        line = body.lines[0]
        made = fastpath.reserve_line(
            db, actor=actor, line=reservations.Line(line.location_id, line.sku, line.quantity),
            owner_type=body.owner_type, owner_id=body.owner_id, reason=body.reason, expires_at=body.expires_at,
            respect_safety_stock=body.respect_safety_stock)
        with db.read() as s:
            return json_response(ReservationList(items=[_reservation(s, r) for r in made]), 201)

    def use_case(s: Session) -> ReservationList:
        made = reservations.reserve(
            s, actor=actor, lines=[reservations.Line(x.location_id, x.sku, x.quantity) for x in body.lines],
            owner_type=body.owner_type, owner_id=body.owner_id, reason=body.reason, expires_at=body.expires_at,
            respect_safety_stock=body.respect_safety_stock)
        return ReservationList(items=[_reservation(s, r) for r in made])

    return run_idempotent(request, db, actor, body, 201, use_case)


@router.get("/inventory/reservations", response_model=ReservationList)
def list_reservations(db: DB, _: Staff, owner_type: Annotated[str, Query(max_length=20)],
                      owner_id: Annotated[str, Query(max_length=100)], limit: Limit = 50,
                      cursor: Cursor = None) -> ReservationList:
    """Reservations of one owner (an order, a cart, a transfer), oldest first."""
    after = cursor_int(decode_cursor(cursor), "after")
    with db.read() as s:
        found = reservations.reservations_of(s, owner_type=owner_type, owner_id=owner_id, after_id=after,
                                             limit=limit + 1)
        more = len(found) > limit
        return ReservationList(items=[_reservation(s, r) for r in found[:limit]],
                               next_cursor=encode_cursor({"after": found[limit - 1].id}) if more else None)


@router.post("/inventory/reservations/{reservation_id}/release", response_model=ReservationOut, responses=CONFLICTS)
def release(reservation_id: RowId, request: Request, db: DB, actor: Reserver,
            body: ReleaseIn | None = None) -> Response:
    """Give reserved units back. Accepts `Idempotency-Key`."""
    return run_idempotent(request, db, actor, body, 200, lambda s: _reservation(
        s, reservations.release(s, actor=actor, reservation_id=reservation_id, reason=body.reason if body else None)))


@router.post("/inventory/reservations/{reservation_id}/consume", response_model=ReservationOut, responses=CONFLICTS)
def consume(reservation_id: RowId, request: Request, db: DB, actor: Mover) -> Response:
    """Take reserved units out of stock (shipped, handed over), first-expired-first-out.
    Accepts `Idempotency-Key`."""
    return run_idempotent(request, db, actor, None, 200, lambda s: _reservation(
        s, reservations.consume(s, actor=actor, reservation_id=reservation_id)))


@router.post("/inventory/expiry-sweep", response_model=SweepOut)
def sweep(db: DB, actor: Operations, location_id: str | None = None) -> SweepOut:
    """Mark lots past their expiry date (reported for write-off) and release lapsed holds."""
    with db.write() as s:
        marked = service.sweep_expired(s, actor=actor, location_id=location_id)
        holds = reservations.release_expired_holds(s, actor=actor)
        lots = [{"location_id": level.location_id, "sku": s.get(Product, level.product_id).sku,  # type: ignore
                 "lot": lot.lot_code, "quantity": lot.quantity, "expiry_date": str(lot.expiry_date)}
                for level, lot in marked]
        return SweepOut(marked=len(marked), lots=lots, holds_released=holds)


@router.get("/inventory/{location_id}/accuracy", response_model=AccuracyOut)
def accuracy(location_id: str, db: DB, _: Staff, since: AwareDatetime | None = None,
             tolerance_units: Annotated[int, Query(ge=0, le=MAX_QUANTITY)] = 0) -> AccuracyOut:
    """Inventory accuracy at a location: share of counted SKUs within tolerance, value of the variances."""
    with db.read() as s:
        r = accuracy_report(s, location_id=location_id, since=since, tolerance_units=tolerance_units)

        def money(minor: int) -> Money | None:
            return Money.of_minor(minor, r.currency) if r.currency else None

        return AccuracyOut(
            location_id=r.location_id, since=r.since, tolerance_units=r.tolerance_units, counts=r.counts,
            skus_counted=r.skus_counted, skus_within_tolerance=r.skus_within_tolerance, accuracy=r.accuracy,
            units_over=r.units_over, units_short=r.units_short, variance_value=money(r.variance_value_minor),
            absolute_variance_value=money(r.absolute_variance_value_minor),
            worst=[VarianceOut(sku=sku, variance=variance, value=money(value)) for sku, variance, value in r.worst])


@router.get("/inventory/{location_id}/{sku}", response_model=LevelOut)
def level(location_id: str, sku: str, db: DB, actor: Staff) -> LevelOut:
    """One SKU at one location: on hand, reserved, expired, safety stock, available, lots (soonest expiry first)."""
    with db.read() as s:
        return _level(s, location_id, sku)


@router.put("/inventory/{location_id}/{sku}/safety-stock", response_model=LevelOut)
def safety_stock(location_id: str, sku: str, body: SafetyStockIn, db: DB, actor: Mover) -> LevelOut:
    """Set the units kept back from online orders (null: the location's default)."""
    with db.write() as s:
        service.set_safety_stock(s, actor=actor, location_id=location_id, sku=sku, quantity=body.quantity)
        return _level(s, location_id, sku)


@router.get("/availability/{sku}", response_model=AvailabilityOut)
def availability(sku: str, db: DB, _: Anyone, location: str | None = None,
                 lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
                 lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
                 radius_km: Annotated[float, Query(gt=0, le=20_000)] = 50) -> AvailabilityOut:
    """What can be promised: at one location, near a point (nearest first), or network-wide."""
    if (lat is None) != (lon is None):
        raise Invalid("Give both lat and lon, or neither", field="lat" if lat is None else "lon",
                      code="incomplete_point")
    with db.read() as s:
        found = atp.availability(s, sku=sku, location_id=location, lat=lat, lon=lon,
                                 radius_km=radius_km if lat is not None else None)
        now = utcnow()
        items = [LocationAvailabilityOut(
            location_id=a.location.id, name=a.location.name, type=a.location.type, available=a.available,
            distance_km=None if a.distance_km is None else round(a.distance_km, 3), pickup_today=a.pickup_today,
            running_out=a.running_out,
            open_now=is_open(a.location.opening_hours, a.location.timezone, now),
            opening_hours=a.location.opening_hours) for a in found]
        return AvailabilityOut(sku=sku, available=sum(i.available for i in items), locations=items)
