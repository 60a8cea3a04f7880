"""Fulfilment over HTTP: an order's fulfilments, a store's work queue, pick/pack/ship/ready, pickups collected
against their code, returns, and the store attribution report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.core.deps import DB
from omniretail.core.errors import Forbidden, NotFound
from omniretail.core.idempotency import run_idempotent
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES, Money, RowId, json_response, problem
from omniretail.core.security import EVERYONE, Actor, Role, require
from omniretail.fulfilment import attribution, picking, returns, service
from omniretail.fulfilment.models import Fulfilment, Return, ReturnLine
from omniretail.fulfilment.schemas import (
    AttributionOut,
    CreditRow,
    FulfilmentLineOut,
    FulfilmentList,
    FulfilmentOut,
    LotOut,
    PickIn,
    ReturnIn,
    ReturnLineOut,
    ReturnOut,
    ShipIn,
)
from omniretail.fulfilment.states import FINISHED
from omniretail.orders import service as orders

router = APIRouter(tags=["fulfilment"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_fulfilment`, `unknown_order`, `unknown_pickup_code`, "
                                      "`unknown_return`"),
    409: problem("`illegal_transition`, `order_not_confirmed`, `order_not_returnable`, `return_exceeds_order`, "
                 "`insufficient_sellable_stock`")})

Reader = Annotated[Actor, Depends(require(*EVERYONE))]
Staff = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE))]
Returner = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.AGENT))]
Manager = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE))]
Status = Literal["awaiting_transfer", "created", "picking", "packed", "shipped", "ready_for_pickup", "collected",
                 "expired", "cancelled"]


def fulfilment_out(session: Session, fulfilment: Fulfilment) -> FulfilmentOut:
    session.flush()
    open_ = fulfilment.status not in FINISHED
    listed = picking.pick_list(session, fulfilment) if open_ else [
        {"sku": x.sku, "quantity": x.quantity, "picked": x.picked, "lots": []}
        for x in service.lines_of(session, fulfilment.id)]
    return FulfilmentOut(
        id=fulfilment.id, order_id=fulfilment.order_id, location_id=fulfilment.location_id, kind=fulfilment.kind,
        status=fulfilment.status, pickup_code=fulfilment.pickup_code, carrier=fulfilment.carrier,
        waybill=fulfilment.waybill, ready_at=fulfilment.ready_at, expires_at=fulfilment.expires_at,
        finished_at=fulfilment.finished_at, created_at=fulfilment.created_at, updated_at=fulfilment.updated_at,
        lines=[FulfilmentLineOut(sku=x["sku"], quantity=x["quantity"], picked=x["picked"],
                                 lots=[LotOut(**lot) for lot in x["lots"]]) for x in listed])


@router.get("/api/v1/orders/{order_id}/fulfilments", response_model=FulfilmentList)
def order_fulfilments(order_id: RowId, db: DB, actor: Reader) -> Response:
    """The order's fulfilments: where each part is picked, its status, waybill or pickup code."""
    with db.read() as s:
        order = orders.get_order(s, actor=actor, order_id=order_id)
        found = service.fulfilments_of(s, order.id)
        return json_response(FulfilmentList(items=[fulfilment_out(s, f) for f in found]))


@router.post("/api/v1/orders/{order_id}/release", response_model=FulfilmentList)
def release(order_id: RowId, request: Request, db: DB, actor: Manager) -> Response:
    """Release a confirmed order to fulfilment now (the worker does it within seconds anyway)."""
    if actor.role is Role.ASSOCIATE:
        raise Forbidden("Orders are released by operations", code="role_forbidden")
    return run_idempotent(request, db, actor, None, 200, lambda s: FulfilmentList(
        items=[fulfilment_out(s, f) for f in service.release(s, actor=actor, order_id=order_id)]))


@router.get("/api/v1/fulfilments", response_model=FulfilmentList)
def queue(db: DB, actor: Staff, location_id: Annotated[str | None, Query(max_length=64)] = None,
          status: Status | None = None, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """A store's or warehouse's work queue, oldest first (associates: their stores)."""
    after = cursor_int(decode_cursor(cursor), "after")
    query = select(Fulfilment).where(Fulfilment.id > after).order_by(Fulfilment.id).limit(limit + 1)
    if location_id is not None:
        actor.require_location(location_id)
        query = query.where(Fulfilment.location_id == location_id)
    elif actor.role is Role.ASSOCIATE:
        query = query.where(Fulfilment.location_id.in_(sorted(actor.location_ids)))
    if status is not None:
        query = query.where(Fulfilment.status == status)
    with db.read() as s:
        found = list(s.scalars(query))
        page = found[:limit]
        return json_response(FulfilmentList(items=[fulfilment_out(s, f) for f in page],
                                            next_cursor=encode_cursor({"after": page[-1].id})
                                            if len(found) > limit else None))


@router.get("/api/v1/fulfilments/{fulfilment_id}", response_model=FulfilmentOut)
def get_fulfilment(fulfilment_id: RowId, db: DB, actor: Staff) -> Response:
    """One fulfilment with its pick list."""
    with db.read() as s:
        return json_response(fulfilment_out(s, service.get_fulfilment(s, actor=actor, fulfilment_id=fulfilment_id)))


@router.post("/api/v1/fulfilments/{fulfilment_id}/pick", response_model=FulfilmentOut)
def pick(fulfilment_id: RowId, request: Request, db: DB, actor: Staff, body: PickIn | None = None) -> Response:
    """Start picking (answers the pick list), or record what was found: a shortfall is written off here by a
    count adjustment and its units are re-sourced to the next best location."""
    body = body or PickIn()

    def use_case(s: Session) -> FulfilmentOut:
        if body.lines is None:
            return fulfilment_out(s, service.start_picking(s, actor=actor, fulfilment_id=fulfilment_id))
        found = {line.sku: line.picked for line in body.lines}
        return fulfilment_out(s, picking.record_pick(s, actor=actor, fulfilment_id=fulfilment_id, found=found))

    return run_idempotent(request, db, actor, body, 200, use_case)


@router.post("/api/v1/fulfilments/{fulfilment_id}/pack", response_model=FulfilmentOut)
def pack(fulfilment_id: RowId, request: Request, db: DB, actor: Staff) -> Response:
    """Record the picked units packed."""
    return run_idempotent(request, db, actor, None, 200, lambda s: fulfilment_out(
        s, service.pack(s, actor=actor, fulfilment_id=fulfilment_id)))


@router.post("/api/v1/fulfilments/{fulfilment_id}/ship", response_model=FulfilmentOut)
def ship(fulfilment_id: RowId, body: ShipIn, request: Request, db: DB, actor: Staff) -> Response:
    """Hand a packed delivery to the carrier with its waybill; its units leave stock."""
    return run_idempotent(request, db, actor, body, 200, lambda s: fulfilment_out(
        s, service.ship(s, actor=actor, fulfilment_id=fulfilment_id, carrier=body.carrier, waybill=body.waybill)))


@router.post("/api/v1/fulfilments/{fulfilment_id}/ready", response_model=FulfilmentOut)
def ready(fulfilment_id: RowId, request: Request, db: DB, actor: Staff) -> Response:
    """Put a pickup at the counter: the customer gets a pickup code and the store's hours (event
    `fulfilment.ready`)."""
    return run_idempotent(request, db, actor, None, 200, lambda s: fulfilment_out(
        s, service.ready(s, actor=actor, fulfilment_id=fulfilment_id)))


@router.post("/api/v1/pickups/{code}/collect", response_model=FulfilmentOut)
def collect(code: str, request: Request, db: DB, actor: Staff) -> Response:
    """Hand a pickup over against its code, by an associate of that store (404 for a wrong code, 403 at
    another store); the order completes."""
    if len(code) > 16:
        raise NotFound("No pickup waits under this code", code="unknown_pickup_code")
    return run_idempotent(request, db, actor, None, 200, lambda s: fulfilment_out(
        s, service.collect(s, actor=actor, code=code)))


def return_out(session: Session, returned: Return) -> ReturnOut:
    session.flush()
    lines = session.scalars(select(ReturnLine).where(ReturnLine.return_id == returned.id).order_by(ReturnLine.id))
    return ReturnOut(
        id=returned.id, order_id=returned.order_id, location_id=returned.location_id, channel=returned.channel,
        refund=Money.of_minor(returned.refund_minor, returned.currency), refund_method=returned.refund_method,
        points_reversed=returned.points_reversed, reason=returned.reason, created_at=returned.created_at,
        lines=[ReturnLineOut(sku=x.sku, quantity=x.quantity, disposition=x.disposition, reason=x.reason,
                             refund=Money.of_minor(x.refund_minor, returned.currency)) for x in lines])


@router.post("/api/v1/returns", response_model=ReturnOut, status_code=201)
def create_return(body: ReturnIn, request: Request, db: DB, actor: Returner) -> Response:
    """Take back goods of an order from any channel where they came back: restocked there (or written off
    with a reason), refunded to the order's payment, loyalty points taken back, the credited store debited.
    More units than were bought: 409 `return_exceeds_order`. Accepts `Idempotency-Key`."""
    lines = [returns.ReturnLineIn(x.sku, x.quantity, x.disposition, x.reason) for x in body.lines]
    return run_idempotent(request, db, actor, body, 201, lambda s: return_out(s, returns.create_return(
        s, actor=actor, order_id=body.order_id, location_id=body.location_id, channel=body.channel, lines=lines,
        reason=body.reason)))


@router.get("/api/v1/returns/{return_id}", response_model=ReturnOut)
def get_return(return_id: RowId, db: DB, actor: Returner) -> Response:
    """One return with its refund."""
    with db.read() as s:
        returned = s.get(Return, return_id)
        if returned is None:
            raise NotFound(f"No return {return_id}", code="unknown_return")
        orders.get_order(s, actor=orders.stock_actor(actor), order_id=returned.order_id)
        actor.require_location(returned.location_id)
        return json_response(return_out(s, returned))


@router.get("/api/v1/reports/attribution", response_model=AttributionOut)
def attribution_report(db: DB, actor: Manager, start: datetime, end: datetime,
                       location_id: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """Online sales credited to each store (pickup store, else nearest store to the delivery address) and the
    returns debited, per currency, from `start` to before `end` — the basis of store commissions."""
    if location_id is not None:
        actor.require_location(location_id)
    elif actor.role is Role.ASSOCIATE:
        raise Forbidden("Associates ask for their own store (location_id)", code="location_out_of_scope")
    with db.read() as s:
        rows = attribution.report(s, start=start, end=end, location_id=location_id)
    return json_response(AttributionOut(start=start, end=end, stores=[CreditRow(
        location_id=r["location_id"], name=r["name"], currency=r["currency"], sales=r["sales"],
        sales_amount=Money.of_minor(r["sales_minor"], r["currency"]), returns=r["returns"],
        returns_amount=Money.of_minor(r["returns_minor"], r["currency"]),
        net=Money.of_minor(r["net_minor"], r["currency"])) for r in rows]))
