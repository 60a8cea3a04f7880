from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from omniretail.core.schemas import MAX_QUANTITY, Money

Reason = Literal["damage", "theft", "found", "expired", "count", "correction"]
OwnerType = Literal["order", "cart", "transfer", "pos", "manual"]


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    quantity: int = Field(le=MAX_QUANTITY, description="Units received (> 0)")
    lot: str | None = Field(default=None, max_length=64, description="Lot code; made from the dates when left out")
    production_date: date | None = None
    expiry_date: date | None = Field(default=None, description="Required for perishable products")


class LotOut(BaseModel):
    lot: str
    quantity: int
    production_date: date | None
    expiry_date: date | None
    expired: bool


class ReceiptOut(BaseModel):
    location_id: str
    sku: str
    lot: LotOut
    on_hand: int


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    quantity: int = Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY,
                          description="Signed: negative removes units, positive adds them")
    reason: Reason
    lot: str | None = Field(default=None, max_length=64,
                            description="Lot to change; first-expired-first-out if left out")


class CountLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(max_length=64)
    counted: int = Field(le=MAX_QUANTITY)
    lot: str | None = Field(default=None, max_length=64)


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(max_length=64)
    lines: list[CountLineIn] = Field(max_length=5000)


class CountLineOut(BaseModel):
    sku: str
    lot: str | None
    expected: int
    counted: int
    variance: int


class CountOut(BaseModel):
    id: int
    location_id: str
    at: datetime
    lines: list[CountLineOut]


class LevelOut(BaseModel):
    location_id: str
    sku: str
    on_hand: int
    reserved: int
    expired: int
    inbound: int = Field(description="Units in transit to here: visible, not available")
    safety_stock: int
    available: int
    lots: list[LotOut]


class SafetyStockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int | None = Field(ge=0, le=1_000_000, description="null: use the location's default")


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    quantity: int = Field(le=MAX_QUANTITY)


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineIn] = Field(max_length=500)
    owner_type: OwnerType
    owner_id: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=200)
    expires_at: AwareDatetime | None = Field(default=None, description="A hold that lapses (carts)")
    respect_safety_stock: bool = Field(default=True, description="False for a sale at the store's own till")


class ReservationOut(BaseModel):
    id: int
    location_id: str
    sku: str
    quantity: int
    status: str
    owner_type: str
    owner_id: str
    reason: str | None
    expires_at: datetime | None
    created_at: datetime


class ReservationList(BaseModel):
    items: list[ReservationOut]
    next_cursor: str | None = None


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=200)


class LocationAvailabilityOut(BaseModel):
    location_id: str
    name: str
    type: str
    available: int
    distance_km: float | None = None
    pickup_today: bool
    running_out: bool = Field(default=False, description="A gift at or below its minimum stock here")
    open_now: bool
    opening_hours: dict[str, list[list[str]]]


class AvailabilityOut(BaseModel):
    sku: str
    available: int = Field(description="Sum over the locations listed")
    locations: list[LocationAvailabilityOut]


class SweepOut(BaseModel):
    marked: int = Field(description="Lots marked expired now (awaiting write-off)")
    lots: list[dict[str, object]]
    holds_released: int




class TransferLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(max_length=64)
    quantity: int = Field(le=MAX_QUANTITY)


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_location_id: str = Field(max_length=64)
    to_location_id: str = Field(max_length=64)
    lines: list[TransferLineIn] = Field(max_length=500)
    reason: str | None = Field(default=None, max_length=200)


class TransferStepIn(BaseModel):
    """Quantities per SKU for a pick or a receipt; left out: everything outstanding."""

    model_config = ConfigDict(extra="forbid")

    lines: list[TransferLineIn] | None = None
    close: bool = Field(default=False, description="Receipt only: end the transfer; what is missing is recorded")


class TransferLineOut(BaseModel):
    sku: str
    requested: int
    picked: int
    shipped: int
    received: int
    discrepancy: int


class TransferOut(BaseModel):
    id: int
    from_location_id: str
    to_location_id: str
    status: str
    reason: str | None
    created_at: datetime
    updated_at: datetime
    lines: list[TransferLineOut]


class TransferList(BaseModel):
    items: list[TransferOut]
    next_cursor: str | None = None


class VarianceOut(BaseModel):
    sku: str
    variance: int
    value: Money | None = Field(description="At list price; null when the counted SKUs mix currencies")


class AccuracyOut(BaseModel):
    location_id: str
    since: datetime | None
    tolerance_units: int
    counts: int = Field(description="Cycle counts in the period")
    skus_counted: int = Field(description="SKUs (per lot when counted by lot) in those counts; the latest count each")
    skus_within_tolerance: int
    accuracy: float | None = Field(description="skus_within_tolerance / skus_counted; null with no counts")
    units_over: int
    units_short: int
    variance_value: Money | None = Field(description="Net value of the variances at list price")
    absolute_variance_value: Money | None
    worst: list[VarianceOut]
