"""Request and response shapes of orders.

`FulfilmentIn` and `PaymentIn` are also what a cart checkout passes to `orders.service.place_order`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omniretail.core.schemas import MAX_ID, MAX_QUANTITY, Money

FulfilmentType = Literal["delivery", "pickup", "in_store"]
PaymentStatus = Literal["authorised", "captured", "pending", "failed", "cash_on_pickup"]
PRICES_REFUSED = "Not accepted: prices come from the catalogue; an order sending one is refused (422 " \
                 "`price_not_accepted`)"


class DeliveryAddressIn(BaseModel):
    """Where to deliver. Fields may be missing: inspection holds an incomplete address for staff to complete."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, description="Recipient")
    line1: str | None = Field(default=None, max_length=200, description="Street and house number")
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    region: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=60, description="ISO 3166-1 alpha-2")
    phone: str | None = Field(default=None, max_length=40, description="Contact phone for the courier")
    lat: float | None = Field(default=None, ge=-90, le=90, description="With lon: the nearest location sends it")
    lon: float | None = Field(default=None, ge=-180, le=180)


class FulfilmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FulfilmentType = Field(description="delivery; pickup at a store; in_store: paid and handed over at the "
                                             "till (recorded as a completed order, stock taken at that store)")
    location_id: str | None = Field(default=None, max_length=64, description="The pickup store or the till's store")
    address: DeliveryAddressIn | None = Field(default=None, description="Required for delivery")
    allow_transfer: bool = Field(default=False, description=(
        "Pickup: the customer accepts to wait when the store lacks units; they are reserved where the sourcing "
        "engine finds them nearest the store and transferred there before the pickup is ready (without it, a "
        "store short of units refuses: 409 `insufficient_stock`)"))


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PaymentStatus
    method: str | None = Field(default=None, max_length=50, examples=["card", "paypal", "cash", "invoice"])


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(le=MAX_QUANTITY, description="Units (> 0)")
    price: Any = Field(default=None, description=PRICES_REFUSED)
    unit_price: Any = Field(default=None, description=PRICES_REFUSED)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=50, examples=["web"])
    customer_id: int = Field(ge=1, le=MAX_ID)
    lines: list[OrderLineIn] = Field(max_length=200)
    fulfilment: FulfilmentIn
    payment: PaymentIn
    origin_location_id: str | None = Field(default=None, max_length=64,
                                           description="The store where the order is taken (associates: one of "
                                                       "theirs; their only store when left out)")
    total: Any = Field(default=None, description=PRICES_REFUSED)


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, examples=["Confirmed with the customer by phone"])
    channel: str | None = Field(default=None, max_length=50, description="How the customer was reached")
    remember_details: bool = Field(default=True, description="Remember the order's phone and address as verified, "
                                                             "so the customer's next order to them passes")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, examples=["Customer changed their mind"])
    channel: str | None = Field(default=None, max_length=50)


class LineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Money
    total: Money
    channel: str | None


class HoldReasonOut(BaseModel):
    code: str
    detail: str


class FulfilmentOut(BaseModel):
    type: str
    location_id: str | None
    address: dict[str, Any] | None


class PaymentOut(BaseModel):
    status: str
    method: str | None


class AllocationOut(BaseModel):
    """Units reserved (or, once handed over, consumed) for the order at one location."""

    location_id: str
    sku: str
    quantity: int
    status: str


class OrderOut(BaseModel):
    id: int
    status: str
    channel: str
    customer_id: int
    lines: list[LineOut]
    total: Money
    hold_reasons: list[HoldReasonOut]
    fulfilment: FulfilmentOut
    payment: PaymentOut
    allocations: list[AllocationOut]
    origin_location_id: str | None
    cart_id: str | None
    created_at: datetime
    updated_at: datetime


class OrderList(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None = None


class OrderEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    channel: str | None
    from_status: str | None
    to_status: str
    reason: str | None
    data: dict[str, Any]


class TimelineOut(BaseModel):
    order_id: int
    items: list[OrderEventOut]
    next_cursor: str | None = None
