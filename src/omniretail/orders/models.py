"""Orders from every channel: the order, its lines at catalogue prices, its append-only timeline, and the
contact details staff verified with a customer (so the next order to them passes inspection).

Orders follow their customer: a merge moves them to the surviving profile, an erasure keeps them (amounts,
lines, timeline) and anonymises the delivery address they carry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base, NullableJSON
from omniretail.customers.merging import register_owned
from omniretail.customers.privacy import register_eraser

STATUS_CHECK = ("status IN ('created', 'inspecting', 'on_hold', 'confirmed', 'in_fulfilment', 'partially_shipped', "
                "'ready_for_pickup', 'completed', 'cancelled', 'returned')")


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(ForeignKey("channels.code"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(20))
    fulfilment_type: Mapped[str] = mapped_column(String(10), comment="delivery, pickup, in_store (handed over)")
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None,
                                                    comment="pickup store, or the store whose till handed it over")
    origin_location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None,
                                                           comment="the store where the order was taken")
    delivery_address: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON, default=None)
    payment_status: Mapped[str] = mapped_column(String(16))
    payment_method: Mapped[str | None] = mapped_column(String(50), default=None)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    hold_reasons: Mapped[list[Any]] = mapped_column(default=list)
    lines_key: Mapped[str] = mapped_column(String(64), comment="fingerprint of the SKUs and quantities (repeats)")
    cart_id: Mapped[str | None] = mapped_column(String(64), default=None, comment="the cart checked out, if any")
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(STATUS_CHECK, name="status_known"),
        CheckConstraint("fulfilment_type IN ('delivery', 'pickup', 'in_store')", name="fulfilment_known"),
        CheckConstraint("payment_status IN ('authorised', 'captured', 'pending', 'failed', 'cash_on_pickup')",
                        name="payment_known"),
        CheckConstraint("total_minor >= 0", name="total_not_negative"),
        Index("ix_orders_customer", "customer_id", "id"),
        Index("ix_orders_status", "status", "id"),
        # Partial: most orders have no cart, no till store, and a delivery has no pickup store — no entry to write.
        Index("ix_orders_location", "location_id", "id", postgresql_where=text("location_id IS NOT NULL"),
              sqlite_where=text("location_id IS NOT NULL")),
        Index("ix_orders_origin", "origin_location_id", "id", postgresql_where=text("origin_location_id IS NOT NULL"),
              sqlite_where=text("origin_location_id IS NOT NULL")),
        Index("ix_orders_cart", "cart_id", postgresql_where=text("cart_id IS NOT NULL"),
              sqlite_where=text("cart_id IS NOT NULL")),
    )


class OrderItem(Base):
    """One line of an order: what was bought, at the catalogue's price when it was ordered."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str | None] = mapped_column(String(50), default=None, comment="the channel that added the line")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_minor >= 0", name="price_not_negative"),
        Index("ix_order_lines_order", "order_id", "line_no"),
    )


class OrderEvent(Base):
    """One state change of an order (append-only): when, who, through which channel, why."""

    __tablename__ = "order_timeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(50), default=None)
    from_status: Mapped[str | None] = mapped_column(String(20), default=None)
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_order_timeline_order", "order_id", "id"),)


class VerifiedDetail(Base):
    """A phone number or delivery address staff confirmed with the customer (stored as a fingerprint)."""

    __tablename__ = "order_verified_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(10), comment="phone, address")
    fingerprint: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the normalised value")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None)
    actor: Mapped[str] = mapped_column(String(200))
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('phone', 'address')", name="kind_known"),
        # Not unique: a merge may bring the survivor a detail it had verified already.
        Index("ix_order_verified_details_customer", "customer_id", "kind", "fingerprint"),
    )


def anonymise_orders(session: Session, profile_ids: list[int]) -> None:
    """Erasure keeps a person's orders (amounts, lines, timeline, why they were held) but not where they were
    delivered nor the details quoted in their hold reasons (a phone number, a postcode)."""
    session.execute(update(Order).where(Order.customer_id.in_(profile_ids), Order.delivery_address.is_not(None))
                    .values(delivery_address={"erased": True}))
    for order_id, reasons in session.execute(select(Order.id, Order.hold_reasons).where(
            Order.customer_id.in_(profile_ids))).all():
        if reasons and any(r.get("detail") != "(erased)" for r in reasons):
            session.execute(update(Order).where(Order.id == order_id).values(
                hold_reasons=[{"code": r.get("code"), "detail": "(erased)"} for r in reasons]))
    session.execute(VerifiedDetail.__table__.delete().where(VerifiedDetail.customer_id.in_(profile_ids)))


# Registered where the tables are defined, so any process that knows them carries them through merges and
# erasures (the API, the CLI, the batch duplicate pass).
register_owned(Order.__table__, "customer_id")
register_owned(VerifiedDetail.__table__, "customer_id")
register_eraser(anonymise_orders)
