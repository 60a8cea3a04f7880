"""Request and response shapes of POS sync: a till's offline batch of sales, returns and counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from omniretail.core.schemas import MAX_ID, MAX_QUANTITY
from omniretail.customers.schemas import IdentityIn
from omniretail.fulfilment.schemas import ReturnLineIn
from omniretail.inventory.schemas import CountLineIn

MAX_ENTRIES = 500
EntryStatus = Literal["applied", "replayed", "conflict", "refused"]
FirstStatus = Literal["applied", "conflict", "refused"]
TILL_ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
ENTRY_ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-/#]{0,99}$"
#: When a till may have worked: anything else is a broken clock.
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: str = Field(pattern=ENTRY_ID, description="The till's own id of the entry: sending it again is a "
                                                        "replay and changes nothing", examples=["T1-000417"])
    at: AwareDatetime = Field(description="When it happened at the till (with offset); entries are applied in this "
                                          "order")

    @field_validator("at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not EARLIEST <= value < LATEST:
            raise ValueError("at lies outside 2000-01-01 .. 2099-12-31 (UTC): the till's clock is wrong")
        return value


class SaleLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(le=MAX_QUANTITY, description="Units sold (> 0)")


class SaleIn(EntryIn):
    """Goods paid and handed over at the till: recorded as a completed in-store order at catalogue prices."""

    kind: Literal["sale"]
    lines: list[SaleLineIn] = Field(min_length=1, max_length=200)
    payment_method: str | None = Field(default=None, max_length=50, examples=["cash", "card"])
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="A known customer profile")
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20, description=(
        "Who bought, as the till knows them (a scanned loyalty card, a `pos_customer_id`), found or created through "
        "customer identification; neither this nor `customer_id`: the store's walk-in profile"))


class ReturnIn(EntryIn):
    """Goods brought back to the till: restocked (or written off) at this store and refunded."""

    kind: Literal["return"]
    order_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="The order the goods were bought with")
    sale_entry_id: str | None = Field(default=None, pattern=ENTRY_ID,
                                      description="Or: the entry id of this till's (synced) sale they were bought in")
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=500)


class CountIn(EntryIn):
    """A stock count made at the store: each variance becomes a count adjustment."""

    kind: Literal["count"]
    lines: list[CountLineIn] = Field(min_length=1, max_length=5000)


Entry = Annotated[SaleIn | ReturnIn | CountIn, Field(discriminator="kind")]


class PosSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    till_id: str = Field(pattern=TILL_ID, examples=["kassel-till-2"], description="The till; entry ids are its own")
    location_id: str = Field(min_length=1, max_length=64, description="The till's store")
    entries: list[Entry] = Field(min_length=1, max_length=MAX_ENTRIES)


class ResourcedOut(BaseModel):
    order_id: int
    sku: str
    quantity: int
    from_location_id: str
    to_location_id: str


class UnfilledOut(BaseModel):
    order_id: int
    sku: str
    quantity: int


class ReleasedHoldOut(BaseModel):
    cart_id: int
    sku: str
    quantity: int


class EntryResultOut(BaseModel):
    entry_id: str
    kind: Literal["sale", "return", "count"]
    at: datetime
    status: EntryStatus = Field(description="applied; replayed (sent before: the first result, nothing changed); "
                                            "conflict (recorded, but units promised online are found nowhere else); "
                                            "refused (nothing written)")
    first_status: FirstStatus | None = Field(default=None, description="What the entry was the first time (replays)")
    code: str | None = Field(default=None, description="Why it was refused (the problem's code) or conflicted")
    detail: str | None = None
    problem: dict[str, Any] | None = Field(default=None, description="The refusal as a problem document")
    order_id: int | None = None
    customer_id: int | None = None
    return_id: int | None = None
    count_id: int | None = None
    resourced: list[ResourcedOut] = Field(default_factory=list,
                                          description="Units promised to online orders here, now reserved elsewhere")
    unfilled: list[UnfilledOut] = Field(default_factory=list,
                                        description="Units promised to online orders found nowhere else")
    released_holds: list[ReleasedHoldOut] = Field(default_factory=list,
                                                  description="Cart holds here released to make room")
    processed_at: datetime


class PosSyncOut(BaseModel):
    till_id: str
    location_id: str
    applied: int
    replayed: int
    conflicts: int
    refused: int
    entries: list[EntryResultOut] = Field(description="In the order they were applied (by `at`)")
