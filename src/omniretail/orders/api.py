"""Orders over HTTP: place (with `Idempotency-Key`), read, list (the held-order queue), confirm, cancel, timeline."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from omniretail.core.deps import DB
from omniretail.core.errors import Invalid
from omniretail.core.idempotency import record_fields, run_idempotent
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import MAX_ID, PROBLEM_RESPONSES, RowId, json_response, problem
from omniretail.core.security import EVERYONE, Actor, Role, require
from omniretail.orders import fastpath, lane, service
from omniretail.orders.schemas import CancelIn, ConfirmIn, OrderIn, OrderList, OrderOut, TimelineOut
from omniretail.orders.views import event_out, order_out, orders_out, placed_out

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_order`")})

PLACERS = frozenset({Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.AGENT, Role.INTEGRATION, Role.CUSTOMER})
Placer = Annotated[Actor, Depends(require(*PLACERS))]
Reader = Annotated[Actor, Depends(require(*EVERYONE))]
Changer = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.AGENT))]
Status = Literal["created", "inspecting", "on_hold", "confirmed", "in_fulfilment", "partially_shipped",
                 "ready_for_pickup", "completed", "cancelled", "returned"]
PLACE_CONFLICTS = {409: problem("`insufficient_stock` (the short lines and what is available), "
                                "`idempotency_key_reused`, `concurrent_change` (send it again)")}
CHANGE_CONFLICTS = {409: problem("`illegal_transition` (with `status_from`, `status_to`), `reservation_lost`, "
                                 "`idempotency_key_reused`")}


def refuse_client_prices(body: OrderIn) -> None:
    """Prices come from the catalogue; an order that sends its own is refused rather than silently repriced."""
    if body.total is not None:
        raise Invalid("Prices come from the catalogue; do not send a total", field="total",
                      code="price_not_accepted")
    for i, line in enumerate(body.lines):
        for name in ("price", "unit_price"):
            if getattr(line, name) is not None:
                raise Invalid("Prices come from the catalogue; do not send one", field=f"lines.{i}.{name}",
                              code="price_not_accepted")


@router.post("", response_model=OrderOut, status_code=201, responses=PLACE_CONFLICTS)
async def place(body: OrderIn, request: Request, db: DB, actor: Placer) -> Response:
    """Place an order from any channel at catalogue prices. Every unit is reserved (at the pickup store, the
    till's store, or the nearest locations that can send it) or the order is refused with 409
    `insufficient_stock` and nothing written. Inspection confirms a clean order at once and holds the others
    (`on_hold`, with `hold_reasons`). Fulfilment `in_store`: a sale paid and handed over at the till, recorded as
    completed. Accepts `Idempotency-Key`."""
    refuse_client_prices(body)
    settings = request.app.state.settings
    if db.dialect == "postgresql" and not request.scope.get("state", {}).get(lane.TRIED):
        answer = await fastpath.place(db, actor=actor, body=body, settings=settings,
                                      idempotency=record_fields(request, actor, body))
        if answer is not None:
            return Response(orjson.dumps(answer), status_code=201, media_type="application/json")

    def use_case(s: Session) -> OrderOut:
        return placed_out(service.place(
            s, actor=actor, channel=body.channel, customer_id=body.customer_id,
            lines=[service.OrderLine(line.sku, line.quantity) for line in body.lines], fulfilment=body.fulfilment,
            payment=body.payment, origin_location_id=body.origin_location_id, settings=settings))

    return await run_in_threadpool(run_idempotent, request, db, actor, body, 201, use_case)


@router.get("", response_model=OrderList)
def list_orders(db: DB, actor: Reader, status: Status | None = None,
                customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                channel: Annotated[str | None, Query(max_length=50)] = None,
                location_id: Annotated[str | None, Query(max_length=64)] = None,
                newest_first: bool = False, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """List the orders this key may see, oldest first; `status=on_hold` is the queue of orders waiting for
    staff to confirm with the customer."""
    position = decode_cursor(cursor)
    after, before = cursor_int(position, "after"), position.get("before")
    before_id = cursor_int(position, "before") if before is not None else None
    with db.read() as s:
        found = service.list_orders(s, actor=actor, limit=limit + 1, status=status, customer_id=customer_id,
                                    channel=channel, location_id=location_id, after_id=after, before_id=before_id,
                                    newest_first=newest_first)
        more = len(found) > limit
        page = found[:limit]
        next_cursor = encode_cursor({"before" if newest_first else "after": page[-1].id}) if more else None
        return json_response(OrderList(items=orders_out(s, page), next_cursor=next_cursor))


@router.get("/{order_id}", response_model=OrderOut)
def get_order(order_id: RowId, db: DB, actor: Reader) -> Response:
    """One order: status, lines at the prices it was placed with, total, hold reasons, where its units are."""
    with db.read() as s:
        return json_response(order_out(s, service.get_order(s, actor=actor, order_id=order_id)))


@router.post("/{order_id}/confirm", response_model=OrderOut, responses=CHANGE_CONFLICTS)
def confirm(order_id: RowId, request: Request, db: DB, actor: Changer, body: ConfirmIn | None = None) -> Response:
    """Confirm a held order after speaking with the customer; its reservation is kept, and the phone and
    address it carries are remembered as verified. Accepts `Idempotency-Key`."""
    body = body or ConfirmIn()
    return run_idempotent(request, db, actor, body, 200, lambda s: order_out(s, service.confirm_order(
        s, actor=actor, order_id=order_id, reason=body.reason, channel=body.channel,
        remember_details=body.remember_details)))


@router.post("/{order_id}/cancel", response_model=OrderOut, responses=CHANGE_CONFLICTS)
def cancel(order_id: RowId, request: Request, db: DB, actor: Changer, body: CancelIn | None = None) -> Response:
    """Cancel an order before its goods leave; its reserved units become available again.
    Accepts `Idempotency-Key`."""
    body = body or CancelIn()
    return run_idempotent(request, db, actor, body, 200, lambda s: order_out(s, service.cancel_order(
        s, actor=actor, order_id=order_id, reason=body.reason, channel=body.channel)))


@router.get("/{order_id}/timeline", response_model=TimelineOut)
def timeline(order_id: RowId, db: DB, actor: Reader, limit: Limit = 50, cursor: Cursor = None) -> TimelineOut:
    """The order's state changes, oldest first: time, actor, channel, from and to, reason."""
    after = cursor_int(decode_cursor(cursor), "after")
    with db.read() as s:
        order, events = service.order_timeline(s, actor=actor, order_id=order_id, limit=limit + 1, after_id=after)
        more = len(events) > limit
        page = events[:limit]
        return TimelineOut(order_id=order.id, items=[event_out(e) for e in page],
                           next_cursor=encode_cursor({"after": page[-1].id}) if more else None)
