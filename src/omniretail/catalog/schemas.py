from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from omniretail.core.schemas import Money, MoneyIn

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$"
AttributeValue = str | int | float | bool
MAX_COUNT = 2**31 - 1


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(pattern=SKU_PATTERN, examples=["DAI-000123"])
    ean: str | None = Field(default=None, max_length=20, examples=["4006381333931"])
    name: str = Field(min_length=1, max_length=300)
    brand: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    family: str | None = Field(default=None, max_length=64, description="shared by a product's variants")
    price: MoneyIn
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    rating: float | None = Field(default=None, ge=0, le=5)
    rating_count: int = Field(default=0, ge=0, le=MAX_COUNT)
    image_urls: list[AnyHttpUrl] = Field(default_factory=list, max_length=20)
    is_gift: bool = False
    perishable: bool = False
    gift_min_stock: int | None = Field(default=None, ge=0, le=MAX_COUNT,
                                       description="Gifts: at or below this many units a location is running out")
    gift_low_policy: Literal["flag", "hide"] = Field(default="flag", description="Gifts running out: `flag` them "
                                                     "as running out on every channel, or `hide` them")


class ProductPatch(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    ean: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, min_length=1, max_length=300)
    brand: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    family: str | None = Field(default=None, max_length=64)
    price: MoneyIn | None = None
    attributes: dict[str, AttributeValue] | None = None
    rating: float | None = Field(default=None, ge=0, le=5)
    rating_count: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    image_urls: list[AnyHttpUrl] | None = Field(default=None, max_length=20)
    is_gift: bool | None = None
    perishable: bool | None = None
    gift_min_stock: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    gift_low_policy: Literal["flag", "hide"] | None = None
    active: bool | None = None


class ProductOut(BaseModel):
    sku: str
    ean: str | None
    name: str
    brand: str | None
    category: str | None
    family: str | None
    price: Money
    attributes: dict[str, Any]
    rating: float | None
    rating_count: int
    image_urls: list[str]
    is_gift: bool
    perishable: bool
    gift_min_stock: int | None = None
    gift_low_policy: str = "flag"
    active: bool
    created_at: datetime
    updated_at: datetime
    variants: list[str] | None = Field(default=None, description="SKUs of the same family (single product only)")

    @classmethod
    def of(cls, product: Any, variants: list[str] | None = None) -> ProductOut:
        return cls(
            sku=product.sku, ean=product.ean, name=product.name, brand=product.brand, category=product.category,
            family=product.family, price=Money.of_minor(product.price_minor, product.currency),
            attributes=product.attributes or {}, rating=product.rating, rating_count=product.rating_count,
            image_urls=list(product.image_urls or []), is_gift=product.is_gift, perishable=product.perishable,
            gift_min_stock=product.gift_min_stock, gift_low_policy=product.gift_low_policy,
            active=product.active, created_at=product.created_at, updated_at=product.updated_at, variants=variants,
        )


class ProductList(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = None


class AlternativesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skus: list[str] = Field(max_length=50, description="Substitutes, best first")


class AlternativeOut(ProductOut):
    source: str = Field(description="`curated` (set by staff) or `similar` (same category, nearest price)")


class AlternativeList(BaseModel):
    sku: str
    items: list[AlternativeOut]
