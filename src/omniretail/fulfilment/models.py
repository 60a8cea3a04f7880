"""Fulfilment of orders: one fulfilment per location sending or handing over units, its lines, returns with
their refunds, and the store each online sale (and each return) is credited to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base

FULFILMENT_STATUSES = ("awaiting_transfer", "created", "picking", "packed", "shipped", "ready_for_pickup",
                       "collected", "expired", "cancelled")


class Fulfilment(Base):
    """The units one location sends (delivery) or hands over (pickup) for one order."""

    __tablename__ = "fulfilments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), comment="where the units are picked")
    kind: Mapped[str] = mapped_column(String(10), comment="delivery or pickup")
    status: Mapped[str] = mapped_column(String(20))
    pickup_code: Mapped[str | None] = mapped_column(String(16), unique=True, default=None,
                                                    comment="shown by the customer at the store's counter")
    carrier: Mapped[str | None] = mapped_column(String(50), default=None)
    waybill: Mapped[str | None] = mapped_column(String(100), default=None)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), default=None,
                                                    comment="the transfer bringing a pickup's units to the store")
    ready_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None, comment="an uncollected pickup expires")
    finished_at: Mapped[datetime | None] = mapped_column(default=None, comment="shipped, collected or expired")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('delivery', 'pickup')", name="kind_known"),
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in FULFILMENT_STATUSES) + ")", name="status_known"),
        Index("ix_fulfilments_order", "order_id", "id"),
        Index("ix_fulfilments_queue", "location_id", "status", "id"),
        Index("ix_fulfilments_expiry", "status", "expires_at"),
    )


class FulfilmentLine(Base):
    __tablename__ = "fulfilment_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    fulfilment_id: Mapped[int] = mapped_column(ForeignKey("fulfilments.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer, comment="units this location sends")
    picked: Mapped[int | None] = mapped_column(Integer, default=None, comment="units found when picking")
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"), default=None)

    __table_args__ = (Index("ix_fulfilment_lines_fulfilment", "fulfilment_id", "id"),)


class Return(Base):
    """Goods of an order brought back, in any channel; the refund is recorded against the order's payment."""

    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), comment="where the goods came back")
    channel: Mapped[str] = mapped_column(ForeignKey("channels.code"))
    refund_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refund_method: Mapped[str | None] = mapped_column(String(50), default=None,
                                                      comment="the order's payment method, refunded")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    points_reversed: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_returns_order", "order_id", "id"),)


class ReturnLine(Base):
    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    disposition: Mapped[str] = mapped_column(String(10), comment="restock or write_off")
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    refund_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("disposition IN ('restock', 'write_off')", name="disposition_known"),
        Index("ix_return_lines_return", "return_id", "id"),
    )


class SalesCredit(Base):
    """An online sale credited to a store (positive) or a return debited from it (negative), for commissions."""

    __tablename__ = "sales_credits"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), comment="the store credited")
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id"), default=None)
    kind: Mapped[str] = mapped_column(String(10), comment="sale or return")
    rule: Mapped[str] = mapped_column(String(20), comment="pickup_store, nearest_store or the sale's (returns)")
    amount_minor: Mapped[int] = mapped_column(BigInteger, comment="signed: returns are negative")
    currency: Mapped[str] = mapped_column(String(3))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('sale', 'return')", name="kind_known"),
        Index("ix_sales_credits_store", "location_id", "at"),
        Index("ix_sales_credits_order", "order_id", "kind"),
    )
