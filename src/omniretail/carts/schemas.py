"""Request and response shapes of the cart API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from omniretail.carts.rules import MAX_HOLD_MINUTES, MAX_LINE_QUANTITY
from omniretail.core.schemas import MAX_ID, Money
from omniretail.orders.schemas import DeliveryAddressIn, FulfilmentIn, OrderOut, PaymentIn

CHANNEL = Field(default=None, max_length=50, description="The channel making the change; by default the key's "
                "channel, else pos for associates, call_centre for agents, web for customers")
class NoPrices(BaseModel):
    """Prices come from the catalogue's price authority: a body that sends one is refused (422, error code
    `price_not_accepted` on the field), never taken."""

    model_config = ConfigDict(extra="forbid")

    price: SkipJsonSchema[Any] = None
    unit_price: SkipJsonSchema[Any] = None

    @field_validator("price", "unit_price", mode="before")
    @classmethod
    def _no_client_prices(cls, value: Any) -> Any:
        raise PydanticCustomError("price_not_accepted", "Prices come from the catalogue's price authority")


class LineFulfilmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["delivery", "pickup"]
    location_id: str | None = Field(default=None, max_length=64, description="The pickup store (pickup only)")


class CartOpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(default=None, min_length=1, max_length=200,
                                  description="The device of an anonymous visitor (same value identify takes as a "
                                              "`device_id` identity)")
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Open this customer's cart instead")
    channel: str | None = CHANNEL


class ItemIn(NoPrices):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, ge=1, le=MAX_LINE_QUANTITY, description="Units to add (same SKU adds up)")
    channel: str | None = CHANNEL
    fulfilment: LineFulfilmentIn | None = Field(
        default=None, description="Endless aisle: this line is delivered, or picked up at another store")


class ItemPatch(NoPrices):
    quantity: int | None = Field(default=None, ge=1, le=MAX_LINE_QUANTITY, description="The line's new quantity")
    fulfilment: LineFulfilmentIn | None = Field(default=None, description="null: as the checkout goes")
    channel: str | None = CHANNEL


class CartPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pickup_location_id: str | None = Field(default=None, max_length=64,
                                           description="The chosen pickup store (availability is shown there)")
    channel: str | None = CHANNEL


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1, le=MAX_ID)
    channel: str | None = CHANNEL


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(default=15, ge=1, le=MAX_HOLD_MINUTES, description="How long the stock is held")


class LineFulfilmentOut(BaseModel):
    type: str
    location_id: str | None


class LineAvailabilityOut(BaseModel):
    location_id: str | None = Field(description="Where `available` is counted: the line's or the cart's pickup store")
    available: int | None = Field(description="Units that can be promised there (null without a store)")
    network: int = Field(description="Units that can be promised across the network")
    enough: bool = Field(description="Whether the line can be served as it stands (at the store, else network-wide)")


class CartLineOut(BaseModel):
    id: int
    sku: str
    name: str
    quantity: int
    channel: str
    unit_price: Money
    line_total: Money
    fulfilment: LineFulfilmentOut | None
    availability: LineAvailabilityOut | None = Field(description="Live; null once the cart is checked out")
    added_by: str
    created_at: datetime
    updated_at: datetime


class HoldReservationOut(BaseModel):
    id: int
    location_id: str
    sku: str
    quantity: int


class HoldOut(BaseModel):
    expires_at: datetime
    active: bool = Field(description="False once the hold has run out")
    reservations: list[HoldReservationOut]


class CartOut(BaseModel):
    id: int
    requested_id: int | None = Field(default=None, description="The id asked for, when it was joined into this cart")
    token: str = Field(description="Opaque code of the cart's QR code; `GET /api/v1/carts/by-code/{token}` opens it")
    status: str
    customer_id: int | None
    device_id: str | None
    channel: str
    pickup_location_id: str | None
    lines: list[CartLineOut]
    item_count: int
    total: Money
    hold: HoldOut | None
    order_ids: list[str]
    qr_url: str = Field(description="The cart's QR code as SVG (`?format=png` for PNG)")
    created_at: datetime
    updated_at: datetime
    checked_out_at: datetime | None


class CheckoutIn(NoPrices):
    channel: str | None = CHANNEL
    fulfilment: FulfilmentIn | None = Field(
        default=None, description="How the cart goes: delivery (with address), pickup at a store, or in_store (paid "
                                  "and handed over at the till). Default: pickup at the cart's pickup store. Lines "
                                  "with their own fulfilment become orders of their own")
    delivery_address: DeliveryAddressIn | None = Field(
        default=None, description="Where lines marked for delivery go when the checkout itself is not a delivery")
    payment: PaymentIn
    origin_location_id: str | None = Field(default=None, max_length=64,
                                           description="The store where the sale is made (associates)")


class CheckoutOut(BaseModel):
    cart: CartOut
    orders: list[OrderOut] = Field(description="One order per way of fulfilment (endless aisle lines apart)")
