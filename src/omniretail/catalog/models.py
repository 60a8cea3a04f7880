"""Products (one row per sellable SKU, variants grouped by `family`) and their search index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    ean: Mapped[str | None] = mapped_column(String(14), default=None)
    gtin14: Mapped[str | None] = mapped_column(String(14), unique=True, default=None)
    name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str | None] = mapped_column(String(100), default=None)
    category: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    family: Mapped[str | None] = mapped_column(String(64), default=None, index=True,
                                               comment="shared by the variants of one product")
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    image_urls: Mapped[list[Any]] = mapped_column(default=list)
    is_gift: Mapped[bool] = mapped_column(Boolean, default=False)
    gift_min_stock: Mapped[int | None] = mapped_column(Integer, default=None,
                                                       comment="gift: at or below this many units a location runs out")
    gift_low_policy: Mapped[str] = mapped_column(String(8), default="flag",
                                                 comment="gift running out: flag it, or hide it from channels")
    perishable: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        CheckConstraint("rating IS NULL OR (rating >= 0 AND rating <= 5)", name="rating_range"),
    )


class ProductTerm(Base):
    """Inverted index: one row per (word, active product) for the words of name and brand.

    The key is ordered by `rank` within a word, so the best few products of a very common
    word are read without sorting all of them.
    """

    __tablename__ = "product_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True,
                                      comment="static order among equal matches, lower first")
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_product_terms_product", "product_id", "term"), {"sqlite_with_rowid": False})


class SearchTerm(Base):
    """The vocabulary of indexed words, with how many products each indexes."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    df: Mapped[int] = mapped_column(Integer, default=0, comment="number of products indexed by this word")

    __table_args__ = {"sqlite_with_rowid": False}


class SearchKey(Base):
    """A word and each of its one-letter deletions, pointing at the word (typo tolerance)."""

    __tablename__ = "search_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = {"sqlite_with_rowid": False}


class ProductAlternative(Base):
    """A curated substitute, shown when the product is out of stock."""

    __tablename__ = "product_alternatives"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    alternative_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
