from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from omniretail.core.deps import DB
from omniretail.core.idempotency import run_idempotent
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES, RowId, problem
from omniretail.core.security import Actor, Role, require
from omniretail.inventory import transfers
from omniretail.inventory.models import Transfer
from omniretail.inventory.schemas import TransferIn, TransferLineOut, TransferList, TransferOut, TransferStepIn

router = APIRouter(prefix="/api/v1/transfers", tags=["transfers"], responses={
    **PROBLEM_RESPONSES, 404: problem("`unknown_transfer`, `unknown_location` or `unknown_sku`"),
    409: problem("`insufficient_stock`, `invalid_transition`, `more_than_shipped`")})

Mover = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION))]
Staff = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION, Role.AGENT))]
Status = Literal["requested", "picked", "in_transit", "received", "cancelled"]


def _out(session: Session, transfer: Transfer) -> TransferOut:
    session.flush()
    return TransferOut(
        id=transfer.id, from_location_id=transfer.from_location_id, to_location_id=transfer.to_location_id,
        status=transfer.status, reason=transfer.reason, created_at=transfer.created_at,
        updated_at=transfer.updated_at,
        lines=[TransferLineOut(sku=sku, requested=line.requested, picked=line.picked, shipped=line.shipped,
                               received=line.received, discrepancy=line.discrepancy)
               for line, sku in transfers.lines_of(session, transfer)])


def _quantities(body: TransferStepIn | None) -> dict[str, int] | None:
    if body is None or body.lines is None:
        return None
    return {line.sku: line.quantity for line in body.lines}


@router.post("", response_model=TransferOut, status_code=201)
def request_transfer(body: TransferIn, request: Request, db: DB, actor: Mover) -> Response:
    """Ask for stock to move between two locations; the units are reserved at the source.
    Accepts `Idempotency-Key`."""
    return run_idempotent(request, db, actor, body, 201, lambda s: _out(s, transfers.request(
        s, actor=actor, from_location_id=body.from_location_id, to_location_id=body.to_location_id,
        lines=[(line.sku, line.quantity) for line in body.lines], reason=body.reason)))


@router.get("", response_model=TransferList)
def list_transfers(db: DB, _: Staff, limit: Limit = 50, cursor: Cursor = None, status: Status | None = None,
                   location_id: str | None = None) -> TransferList:
    """Transfers, oldest first; filter by status or by a location at either end."""
    with db.read() as s:
        found = transfers.list_transfers(s, limit=limit + 1, after_id=cursor_int(decode_cursor(cursor), "after"),
                                         status=status, location_id=location_id)
        more = len(found) > limit
        return TransferList(items=[_out(s, t) for t in found[:limit]],
                            next_cursor=encode_cursor({"after": found[limit - 1].id}) if more else None)


@router.get("/{transfer_id}", response_model=TransferOut)
def get_transfer(transfer_id: RowId, db: DB, _: Staff) -> TransferOut:
    """One transfer with its lines."""
    with db.read() as s:
        return _out(s, transfers.get_transfer(s, transfer_id))


@router.post("/{transfer_id}/pick", response_model=TransferOut)
def pick(transfer_id: RowId, request: Request, db: DB, actor: Mover, body: TransferStepIn | None = None) -> Response:
    """Record the units picked at the source (short picks give the rest back)."""
    return run_idempotent(request, db, actor, body, 200, lambda s: _out(s, transfers.pick(
        s, actor=actor, transfer_id=transfer_id, picked=_quantities(body))))


@router.post("/{transfer_id}/ship", response_model=TransferOut)
def ship(transfer_id: RowId, request: Request, db: DB, actor: Mover) -> Response:
    """Send the picked units: out of the source's lots, inbound at the destination."""
    return run_idempotent(request, db, actor, None, 200, lambda s: _out(s, transfers.ship(
        s, actor=actor, transfer_id=transfer_id)))


@router.post("/{transfer_id}/receive", response_model=TransferOut)
def receive(transfer_id: RowId, request: Request, db: DB, actor: Mover,
            body: TransferStepIn | None = None) -> Response:
    """Put received units away at the destination; partial receipts allowed, `close` records what is missing."""
    return run_idempotent(request, db, actor, body, 200, lambda s: _out(s, transfers.receive(
        s, actor=actor, transfer_id=transfer_id, received=_quantities(body), close=bool(body and body.close))))


@router.post("/{transfer_id}/cancel", response_model=TransferOut)
def cancel(transfer_id: RowId, request: Request, db: DB, actor: Mover) -> Response:
    """Call off a transfer that has not been shipped; its units are available again."""
    return run_idempotent(request, db, actor, None, 200, lambda s: _out(s, transfers.cancel(
        s, actor=actor, transfer_id=transfer_id)))
