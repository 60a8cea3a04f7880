"""Stored invariants of stock, verified by `omniretail check` and by the property-based tests."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniretail.inventory.models import LedgerEntry, Reservation, StockLevel, StockLot, Transfer, TransferLine


def _totals(session: Session, query) -> dict[tuple[str, int], int]:  # type: ignore[no-untyped-def]
    return {(loc, pid): int(total or 0) for loc, pid, total in session.execute(query)}


def stock_violations(session: Session) -> list[str]:
    """Every way the levels disagree with their lots, ledger and reservations (empty when sound)."""
    levels = {(lv.location_id, lv.product_id): lv for lv in session.scalars(select(StockLevel))}
    lots = _totals(session, select(StockLot.location_id, StockLot.product_id, func.sum(StockLot.quantity))
                   .group_by(StockLot.location_id, StockLot.product_id))
    expired = _totals(session, select(StockLot.location_id, StockLot.product_id, func.sum(StockLot.quantity))
                      .where(StockLot.expired.is_(True)).group_by(StockLot.location_id, StockLot.product_id))
    ledger = _totals(session, select(LedgerEntry.location_id, LedgerEntry.product_id, func.sum(LedgerEntry.delta))
                     .group_by(LedgerEntry.location_id, LedgerEntry.product_id))
    reserved = _totals(session, select(Reservation.location_id, Reservation.product_id, func.sum(Reservation.quantity))
                       .where(Reservation.status == "active")
                       .group_by(Reservation.location_id, Reservation.product_id))
    outstanding = TransferLine.shipped - TransferLine.received - TransferLine.discrepancy
    in_transit = _totals(session, select(Transfer.to_location_id, TransferLine.product_id, func.sum(outstanding))
                         .join(TransferLine, TransferLine.transfer_id == Transfer.id)
                         .where(Transfer.status == "in_transit")
                         .group_by(Transfer.to_location_id, TransferLine.product_id))
    problems = []
    negative_lots = session.scalar(select(func.count()).select_from(StockLot).where(StockLot.quantity < 0)) or 0
    if negative_lots:
        problems.append(f"{negative_lots} lot(s) with a negative quantity")
    for key in sorted(set(levels) | set(lots) | set(ledger) | set(reserved) | set(in_transit)):
        level = levels.get(key)
        where = f"{key[0]} / product {key[1]}"
        on_hand = level.on_hand if level else 0
        if lots.get(key, 0) != on_hand:
            problems.append(f"{where}: lots hold {lots.get(key, 0)}, on hand says {on_hand}")
        if ledger.get(key, 0) != on_hand:
            problems.append(f"{where}: ledger sums to {ledger.get(key, 0)}, on hand says {on_hand}")
        if level is None:
            continue
        if reserved.get(key, 0) != level.reserved:
            problems.append(f"{where}: active reservations hold {reserved.get(key, 0)}, reserved says {level.reserved}")
        if in_transit.get(key, 0) != level.inbound:
            problems.append(f"{where}: transfers in transit carry {in_transit.get(key, 0)}, "
                            f"inbound says {level.inbound}")
        if expired.get(key, 0) != level.expired:
            problems.append(f"{where}: expired lots hold {expired.get(key, 0)}, expired says {level.expired}")
        if not 0 <= level.reserved <= level.on_hand or level.on_hand < 0:
            problems.append(f"{where}: reserved {level.reserved} outside 0..on hand {level.on_hand}")
    return problems
