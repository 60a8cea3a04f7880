"""Inventory accuracy per location from its cycle counts (C9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.inventory.models import StockCount, StockCountLine
from omniretail.locations.service import get_location


@dataclass(frozen=True)
class AccuracyReport:
    location_id: str
    since: datetime | None
    tolerance_units: int
    counts: int
    skus_counted: int
    skus_within_tolerance: int
    accuracy: float | None
    units_over: int
    units_short: int
    variance_value_minor: int
    absolute_variance_value_minor: int
    currency: str | None
    worst: list[tuple[str, int, int]]  # sku, variance, value in minor units


def accuracy_report(session: Session, *, location_id: str, since: datetime | None = None,
                    tolerance_units: int = 0, worst: int = 10) -> AccuracyReport:
    """Share of counted SKUs whose latest count was within tolerance, and the value of the variances."""
    location = get_location(session, location_id)
    query = (select(StockCountLine, StockCount.at, Product.sku)
             .join(StockCount, StockCount.id == StockCountLine.count_id)
             .join(Product, Product.id == StockCountLine.product_id)
             .where(StockCount.location_id == location.id))
    if since is not None:
        query = query.where(StockCount.at >= since)
    latest: dict[tuple[str, str | None], tuple[StockCountLine, str]] = {}
    count_ids: set[int] = set()
    for line, _, sku in session.execute(query.order_by(StockCount.at, StockCountLine.id)):
        latest[(sku, line.lot_code)] = (line, sku)
        count_ids.add(line.count_id)
    lines = list(latest.values())
    within = sum(abs(line.variance) <= tolerance_units for line, _ in lines)
    currencies = {line.currency for line, _ in lines}
    ranked = sorted(lines, key=lambda pair: -abs(pair[0].variance_value_minor))[:worst]
    return AccuracyReport(
        location_id=location.id, since=since, tolerance_units=tolerance_units, counts=len(count_ids),
        skus_counted=len(lines), skus_within_tolerance=within,
        accuracy=round(within / len(lines), 4) if lines else None,
        units_over=sum(line.variance for line, _ in lines if line.variance > 0),
        units_short=-sum(line.variance for line, _ in lines if line.variance < 0),
        variance_value_minor=sum(line.variance_value_minor for line, _ in lines),
        absolute_variance_value_minor=sum(abs(line.variance_value_minor) for line, _ in lines),
        currency=currencies.pop() if len(currencies) == 1 else None,
        worst=[(sku, line.variance, line.variance_value_minor) for line, sku in ranked if line.variance])
