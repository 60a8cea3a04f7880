"""Stores, warehouses and hubs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str | None] = mapped_column(String(100), default=None)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    address_line1: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    postcode: Mapped[str | None] = mapped_column(String(20), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    pickup: Mapped[bool] = mapped_column(default=False)
    ship_from_store: Mapped[bool] = mapped_column(default=False)
    hub: Mapped[bool] = mapped_column(default=False)
    daily_capacity: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0,
                                              comment="units of each SKU kept back from online orders")
    opening_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("type IN ('store', 'warehouse', 'hub')", name="type_known"),
        CheckConstraint("daily_capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="coordinates_range"),
        Index("ix_locations_lat_lon", "lat", "lon"),
    )


class LocationLoad(Base):
    """Units sent out for delivery from a location on one day (the location's own calendar day, in its
    `timezone`), held against its `daily_capacity` (`locations.capacity`)."""

    __tablename__ = "location_loads"

    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    units: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("units >= 0", name="units_not_negative"),)
