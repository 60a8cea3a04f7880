"""Request and response shapes of fulfilments, pickups, returns and the attribution report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omniretail.core.schemas import MAX_QUANTITY, Money


class LotOut(BaseModel):
    lot: str
    quantity: int
    expiry_date: date | None


class FulfilmentLineOut(BaseModel):
    sku: str
    quantity: int = Field(description="Units this location sends or hands over")
    picked: int | None = Field(description="Units found when picking (null: not recorded yet)")
    lots: list[LotOut] = Field(description="Where to pick them, soonest expiry first (open fulfilments)")


class FulfilmentOut(BaseModel):
    id: int
    order_id: int
    location_id: str
    kind: Literal["delivery", "pickup"]
    status: str
    pickup_code: str | None = Field(description="Pickups ready at the counter (staff and the customer)")
    carrier: str | None
    waybill: str | None
    ready_at: datetime | None
    expires_at: datetime | None
    finished_at: datetime | None
    lines: list[FulfilmentLineOut]
    created_at: datetime
    updated_at: datetime


class FulfilmentList(BaseModel):
    items: list[FulfilmentOut]
    next_cursor: str | None = None


class PickLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    picked: int = Field(ge=0, le=MAX_QUANTITY, description="Units found")


class PickIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[PickLineIn] | None = Field(default=None, max_length=200, description=(
        "Units found per SKU (SKUs left out: all found). Without lines, picking starts and the pick list is "
        "answered; a shortfall is written off here and re-sourced to the next best location."))


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str | None = Field(default=None, max_length=50, examples=["DHL"])
    waybill: str = Field(min_length=1, max_length=100, examples=["00340434161094042557"])


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    disposition: Literal["restock", "write_off"] = "restock"
    reason: str | None = Field(default=None, max_length=200, description="Required for a write-off",
                               examples=["damaged in transit"])


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: int = Field(ge=1, le=2**31 - 1)
    location_id: str = Field(min_length=1, max_length=64, description="Where the goods came back")
    channel: str = Field(min_length=1, max_length=50, examples=["pos", "web"])
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=500)


class ReturnLineOut(BaseModel):
    sku: str
    quantity: int
    disposition: str
    reason: str | None
    refund: Money


class ReturnOut(BaseModel):
    id: int
    order_id: int
    location_id: str
    channel: str
    refund: Money
    refund_method: str | None = Field(description="The order's payment method, refunded")
    points_reversed: int
    reason: str | None
    lines: list[ReturnLineOut]
    created_at: datetime


class CreditRow(BaseModel):
    location_id: str
    name: str
    currency: str
    sales: int = Field(description="Online sales credited")
    sales_amount: Money
    returns: int
    returns_amount: Money
    net: Money


class AttributionOut(BaseModel):
    start: datetime
    end: datetime
    stores: list[CreditRow]
    details: dict[str, Any] = Field(default_factory=dict)
