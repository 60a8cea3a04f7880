"""The stock level row as a lock, its lots, and keeping the two in step (used by the services)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.core.clock import utcnow
from omniretail.core.db import insert_ignore
from omniretail.inventory import allocation
from omniretail.inventory.models import StockLevel, StockLot
from omniretail.locations.models import Location


def lock_level(session: Session, location_id: str, product_id: int) -> StockLevel:
    """The level row of (location, product), created if missing, locked for this transaction.

    Callers that lock several rows take them in (location_id, product_id) order.
    """
    insert_ignore(session, StockLevel.__table__, [{
        "location_id": location_id, "product_id": product_id, "on_hand": 0, "reserved": 0, "expired": 0,
        "safety_stock": None, "next_expiry": None, "updated_at": utcnow()}], conflict=["location_id", "product_id"])
    query = select(StockLevel).where(StockLevel.location_id == location_id, StockLevel.product_id == product_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one()


def safety_stock_of(level: StockLevel, location: Location | None) -> int:
    """Units kept back from online orders: the level's own setting, else its location's default."""
    if level.safety_stock is not None:
        return level.safety_stock
    return location.safety_stock if location is not None else 0


def sku_of(session: Session, product_id: int) -> str:
    return session.scalar(select(Product.sku).where(Product.id == product_id)) or str(product_id)


def lots_of(session: Session, location_id: str, product_id: int) -> list[StockLot]:
    return list(session.scalars(select(StockLot).where(StockLot.location_id == location_id,
                                                       StockLot.product_id == product_id).order_by(StockLot.id)))


def view(lot: StockLot) -> allocation.LotView:
    return allocation.LotView(id=lot.id, lot_code=lot.lot_code, quantity=lot.quantity, expiry_date=lot.expiry_date,
                              expired=lot.expired, received_order=lot.id)


def refresh_next_expiry(level: StockLevel, lots: list[StockLot], today: date) -> None:
    level.next_expiry = allocation.next_expiry([view(lot) for lot in lots], today)
    level.updated_at = utcnow()


def mark_expired_lots(session: Session, level: StockLevel, today: date) -> list[StockLot]:
    """Mark lots past their expiry date as expired (kept on hand, awaiting write-off)."""
    lots = lots_of(session, level.location_id, level.product_id)
    newly = [lot for lot in lots
             if lot.quantity > 0 and not lot.expired and allocation.is_expired(lot.expiry_date, today)]
    for lot in newly:
        lot.expired = True
        level.expired += lot.quantity
    refresh_next_expiry(level, lots, today)
    return newly


def add_reserved(session: Session, location_id: str, product_id: int, quantity: int, *, today: date,
                 respect_safety_stock: bool) -> bool:
    """Reserve `quantity` units in one guarded statement; False (and nothing changed) if not available."""
    table = StockLevel.__table__
    safety: object = 0
    if respect_safety_stock:
        locations = Location.__table__
        default = select(locations.c.safety_stock).where(locations.c.id == location_id).scalar_subquery()
        safety = func.coalesce(table.c.safety_stock, default, 0)
    statement = (update(table)
                 .where(table.c.location_id == location_id, table.c.product_id == product_id,
                        table.c.on_hand - table.c.reserved - table.c.expired - safety >= quantity,
                        (table.c.next_expiry.is_(None)) | (table.c.next_expiry >= today))
                 .values(reserved=table.c.reserved + quantity, updated_at=utcnow()))
    return session.execute(statement).rowcount == 1
