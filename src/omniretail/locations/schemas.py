from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

LocationType = Literal["store", "warehouse", "hub"]
MAX_CAPACITY = 1_000_000
HOURS_DOC = ('{"mon": [["09:00", "20:00"]], ..., "sun": []} or "mon-fri 09:00-20:00; sat 10:00-16:00; sun closed"')


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-_]{0,63}$",
                           description="Chosen id; made from the name when left out")
    name: str = Field(min_length=1, max_length=200)
    type: LocationType
    brand: str | None = Field(default=None, max_length=100)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    timezone: str = Field(default="UTC", max_length=64, examples=["Europe/Berlin"])
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, min_length=2, max_length=2, examples=["DE"])
    phone: str | None = Field(default=None, max_length=32)
    pickup: bool = False
    ship_from_store: bool = False
    hub: bool | None = Field(default=None, description="Takes part in hub / store-to-store moves; "
                             "defaults to true for type hub")
    opening_hours: dict[str, Any] | str | None = Field(default=None, description=HOURS_DOC)
    daily_capacity: int = Field(default=0, ge=0, le=MAX_CAPACITY,
                                description="Units it can send out for delivery a day (0: no limit)")
    safety_stock: int = Field(default=0, ge=0, le=MAX_CAPACITY,
                              description="Units of each SKU kept back from online orders (per-SKU override possible)")


class LocationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    brand: str | None = Field(default=None, max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    timezone: str | None = Field(default=None, max_length=64)
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    phone: str | None = Field(default=None, max_length=32)
    pickup: bool | None = None
    ship_from_store: bool | None = None
    hub: bool | None = None
    opening_hours: dict[str, Any] | str | None = Field(default=None, description=HOURS_DOC)
    daily_capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY)
    safety_stock: int | None = Field(default=None, ge=0, le=MAX_CAPACITY)
    active: bool | None = None


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    type: str
    brand: str | None
    lat: float
    lon: float
    timezone: str
    address_line1: str | None
    city: str | None
    postcode: str | None
    country: str | None
    phone: str | None
    pickup: bool
    ship_from_store: bool
    hub: bool
    daily_capacity: int
    safety_stock: int
    opening_hours: dict[str, list[list[str]]]
    active: bool
    created_at: datetime
    updated_at: datetime
    distance_km: float | None = Field(default=None, description="When searched near a point")
    open_now: bool | None = None


class LocationList(BaseModel):
    items: list[LocationOut]
    next_cursor: str | None = None
