"""Stock as CSV: one row per lot (`location_id,sku,lot,quantity,production_date,expiry_date`).

Importing sets each lot to the quantity in its row (new lots are put away, changed ones are
corrected in the ledger), so importing an export changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.core.clock import utcnow
from omniretail.core.csvio import CREATED, UNCHANGED, UPDATED, RowError, RowProblem, reason_of
from omniretail.core.errors import DomainError
from omniretail.core.security import Actor
from omniretail.inventory import service
from omniretail.inventory.levels import lock_level, lots_of
from omniretail.inventory.models import StockLot

COLUMNS = ("location_id", "sku", "lot", "quantity", "production_date", "expiry_date")


@dataclass(frozen=True)
class StockRow:
    location_id: str
    sku: str
    lot: str
    quantity: int
    production_date: date | None
    expiry_date: date | None


def _date(value: str, column: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowProblem(f"{column}: {value!r} is not a date like 2026-11-23") from None


@dataclass
class StockImport:
    actor: Actor
    kind: str = "stock"
    required: frozenset[str] = frozenset({"location_id", "sku", "lot", "quantity"})
    columns: tuple[str, ...] = COLUMNS

    def tables(self) -> list[str]:
        return ["stock_levels", "stock_lots", "stock_ledger"]

    def parse(self, row: dict[str, str]) -> StockRow:
        try:
            quantity = int(row["quantity"])
        except ValueError:
            raise RowProblem(f"quantity: {row['quantity']!r} is not a whole number") from None
        if quantity < 0:
            raise RowProblem("quantity: cannot be negative")
        if not row["lot"]:
            raise RowProblem("lot: every row names its lot")
        production, expiry = _date(row.get("production_date", ""), "production_date"), \
            _date(row.get("expiry_date", ""), "expiry_date")
        if production and expiry and expiry < production:
            raise RowProblem("expiry_date: before the production date")
        return StockRow(row["location_id"], row["sku"], row["lot"], quantity, production, expiry)

    def load(self, session: Session, items: list[tuple[int, StockRow]]) -> dict[int, str | RowError]:
        outcomes: dict[int, str | RowError] = {}
        for line, row in sorted(items, key=lambda item: (item[1].location_id, item[1].sku, item[0])):
            try:
                with session.begin_nested():
                    outcomes[line] = self._load_one(session, row)
            except DomainError as exc:
                outcomes[line] = RowError(line, reason_of(exc))
        return outcomes

    def _load_one(self, session: Session, row: StockRow) -> str:
        location, product = service.resolve(session, row.location_id, row.sku)
        if product.perishable and row.expiry_date is None:
            raise DomainError(f"{row.sku} is perishable: the row needs its expiry date", code="expiry_required")
        level = lock_level(session, location.id, product.id)
        lots = lots_of(session, location.id, product.id)
        lot = next((x for x in lots if x.lot_code == row.lot), None)
        if lot is not None and (lot.production_date, lot.expiry_date) != (row.production_date, row.expiry_date):
            raise DomainError(f"lot {row.lot} here has other dates ({lot.production_date} / {lot.expiry_date})",
                              code="lot_dates_conflict")
        current = lot.quantity if lot else 0
        if row.quantity == current:
            return UNCHANGED
        cause = service.Cause("import", None)
        if row.quantity > current:
            service.put_away(session, actor=self.actor, level=level, lots=lots, sku=row.sku, lot_code=row.lot,
                             quantity=row.quantity - current, production_date=row.production_date,
                             expiry_date=row.expiry_date, kind="import", cause=cause, today=utcnow().date(),
                             existing=lot)
        else:
            service.adjust(session, actor=self.actor, location_id=location.id, sku=row.sku,
                           quantity=row.quantity - current, reason="correction", lot=row.lot, note_cause=cause,
                           kind="import")
        return CREATED if lot is None else UPDATED


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """Every lot with units, in the format `StockImport` reads back."""
    query = (select(StockLot, Product.sku).join(Product, Product.id == StockLot.product_id)
             .where(StockLot.quantity > 0).order_by(StockLot.location_id, Product.sku, StockLot.id))
    for lot, sku in session.execute(query).yield_per(2000):
        yield {"location_id": lot.location_id, "sku": sku, "lot": lot.lot_code, "quantity": lot.quantity,
               "production_date": lot.production_date.isoformat() if lot.production_date else "",
               "expiry_date": lot.expiry_date.isoformat() if lot.expiry_date else ""}


