"""Carts: one active cart per customer (and per anonymous device), with lines that keep their channel.

Uniqueness lives in two nullable unique columns rather than in `customer_id`: `active_for` is
the customer whose one active cart this is, `active_device` the device of an anonymous active
cart. A customer merge moves `customer_id` (the cart follows its person, and an unmerge moves it
back) but never `active_for`, so the merge cannot collide on the constraint; the survivor's carts
are then joined into one on its next access (`carts.service`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base

CART_STATUSES = ("active", "checked_out", "merged", "erased")
FULFILMENT_TYPES = ("delivery", "pickup")


class Cart(Base):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, comment="opaque code shown as the cart's QR code")
    status: Mapped[str] = mapped_column(String(12), default="active")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), default=None,
                                                    comment="the person; follows customer merges")
    active_for: Mapped[int | None] = mapped_column(Integer, unique=True, default=None,
                                                   comment="set while this is the customer's one active cart")
    device_id: Mapped[str | None] = mapped_column(String(200), default=None,
                                                  comment="the device an anonymous cart was opened on")
    active_device: Mapped[str | None] = mapped_column(String(200), unique=True, default=None,
                                                      comment="set while this is the device's anonymous active cart")
    channel: Mapped[str] = mapped_column(String(50), comment="the channel that opened the cart")
    pickup_location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None,
                                                           comment="the chosen pickup store")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id"), default=None)
    hold_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    order_ids: Mapped[list[Any]] = mapped_column(default=list, comment="orders placed at checkout")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_out_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        CheckConstraint("status IN ('active', 'checked_out', 'merged', 'erased')", name="status_known"),
        CheckConstraint("status = 'active' OR (active_for IS NULL AND active_device IS NULL)",
                        name="only_active_is_current"),
        Index("ix_carts_customer", "customer_id", "status"),
        Index("ix_carts_merged_into", "merged_into_id"),
    )


class CartLine(Base):
    """One SKU in a cart; its price is read from the catalogue, never stored from a client."""

    __tablename__ = "cart_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(50), comment="the channel that added the line")
    fulfilment: Mapped[str | None] = mapped_column(String(10), default=None,
                                                   comment="line-level hint: delivery, or pickup at location_id")
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None)
    added_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("cart_id", "product_id", name="uq_cart_lines_sku"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("(fulfilment IS NULL AND location_id IS NULL) OR (fulfilment = 'delivery' AND location_id IS "
                        "NULL) OR (fulfilment = 'pickup' AND location_id IS NOT NULL)", name="fulfilment_known"),
    )
