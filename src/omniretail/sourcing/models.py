"""The sourcing decision of each delivery order, as the engine explained it; the live bid prices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class SourcingDecision(Base):
    __tablename__ = "sourcing_decisions"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    policy: Mapped[str] = mapped_column(String(20))
    total_cost: Mapped[float] = mapped_column(Float)
    packages: Mapped[int] = mapped_column(Integer)
    split: Mapped[bool] = mapped_column(default=False)
    decision: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="locations, cost breakdown, alternatives")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BidPrice(Base):
    """What a unit of a location's stock of a SKU (resource `stock`), or of its picking capacity today
    (`capacity`, sku ''), is worth to the demand expected, as the last bid-price run found (`sourcing.live`)."""

    __tablename__ = "bid_prices"

    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    resource: Mapped[str] = mapped_column(String(10), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    price: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("resource IN ('stock', 'capacity')", name="resource_known"),
        CheckConstraint("(resource = 'capacity') = (sku = '')", name="capacity_has_no_sku"),
        CheckConstraint("price > 0", name="price_positive"),
    )


class BidPriceRun(Base):
    """One run of the bid-price job: the forecast it priced and what it found (the prices' history)."""

    __tablename__ = "bid_price_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(80))
    history_days: Mapped[int] = mapped_column(Integer)
    horizon_hours: Mapped[float] = mapped_column(Float)
    history_orders: Mapped[int] = mapped_column(Integer)
    forecast_units: Mapped[float] = mapped_column(Float)
    scenarios: Mapped[int] = mapped_column(Integer)
    locations: Mapped[int] = mapped_column(Integer)
    stock_prices: Mapped[int] = mapped_column(Integer)
    capacity_prices: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
