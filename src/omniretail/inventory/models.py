"""Stock per (location, product): a level row (the lock point), its lots, reservations and a ledger."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class StockLevel(Base):
    """Totals of one SKU at one location. Every change to its lots or reservations updates this
    row in the same transaction, so the row is the lock that orders concurrent writers."""

    __tablename__ = "stock_levels"

    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0, comment="units physically here, all lots")
    reserved: Mapped[int] = mapped_column(Integer, default=0, comment="units promised by active reservations")
    expired: Mapped[int] = mapped_column(Integer, default=0, comment="units in lots marked expired")
    inbound: Mapped[int] = mapped_column(Integer, default=0, comment="units in transit to here (not available)")
    safety_stock: Mapped[int | None] = mapped_column(Integer, default=None,
                                                     comment="kept back from online orders; NULL: location default")
    next_expiry: Mapped[date | None] = mapped_column(Date, default=None,
                                                     comment="earliest expiry among sellable lots with units")
    low: Mapped[bool] = mapped_column(default=False, comment="a gift at or below its minimum stock here")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("expired >= 0 AND expired <= on_hand", name="expired_within_on_hand"),
        CheckConstraint("inbound >= 0", name="inbound_not_negative"),
        CheckConstraint("safety_stock IS NULL OR safety_stock >= 0", name="safety_stock_not_negative"),
        Index("ix_stock_levels_product", "product_id", "location_id"),
    )


class StockLot(Base):
    __tablename__ = "stock_lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[int] = mapped_column(Integer)
    lot_code: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    production_date: Mapped[date | None] = mapped_column(Date, default=None)
    expiry_date: Mapped[date | None] = mapped_column(Date, default=None)
    expired: Mapped[bool] = mapped_column(default=False, comment="marked expired; awaiting write-off")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("location_id", "product_id", "lot_code", name="uq_stock_lots_lot"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("production_date IS NULL OR expiry_date IS NULL OR expiry_date >= production_date",
                        name="expiry_after_production"),
        Index("ix_stock_lots_fefo", "location_id", "product_id", "expiry_date"),
        {"comment": "lots of a stock level; their quantities sum to its on_hand"},
    )


class Reservation(Base):
    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="active")
    owner_type: Mapped[str] = mapped_column(String(20), comment="order, cart, transfer, pos, manual")
    owner_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('active', 'released', 'consumed', 'expired')", name="status_known"),
        Index("ix_reservations_level", "location_id", "product_id", "status"),
        Index("ix_reservations_owner", "owner_type", "owner_id"),
        Index("ix_reservations_expiry", "status", "expires_at", postgresql_where=text("expires_at IS NOT NULL"),
              sqlite_where=text("expires_at IS NOT NULL")),  # only holds expire; an order's reservation does not
    )


class LedgerEntry(Base):
    """Append-only: one row per change of on-hand stock, per lot, with its actor and cause."""

    __tablename__ = "stock_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    location_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[int | None] = mapped_column(Integer, default=None)
    delta: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20), comment="receipt, consume, adjustment, count, transfer_out, ...")
    reason: Mapped[str | None] = mapped_column(String(50), default=None)
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(50), default=None)
    cause_type: Mapped[str | None] = mapped_column(String(20), default=None)
    cause_id: Mapped[str | None] = mapped_column(String(100), default=None)

    __table_args__ = (Index("ix_stock_ledger_level", "location_id", "product_id", "id"),)


class StockCount(Base):
    """A cycle count at one location: what was expected, what was counted."""

    __tablename__ = "stock_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))


class StockCountLine(Base):
    __tablename__ = "stock_count_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    lot_code: Mapped[str | None] = mapped_column(String(64), default=None)
    expected: Mapped[int] = mapped_column(Integer)
    counted: Mapped[int] = mapped_column(Integer)
    variance: Mapped[int] = mapped_column(Integer)
    variance_value_minor: Mapped[int] = mapped_column(Integer, comment="variance × list price, minor units")
    currency: Mapped[str] = mapped_column(String(3))


class Transfer(Base):
    """Stock moving between two locations: requested → picked → in_transit → received (or cancelled)."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(12), default="requested")
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("status IN ('requested', 'picked', 'in_transit', 'received', 'cancelled')",
                        name="status_known"),
        CheckConstraint("from_location_id <> to_location_id", name="two_locations"),
        Index("ix_transfers_status", "status", "id"),
    )


class TransferLine(Base):
    __tablename__ = "transfer_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    requested: Mapped[int] = mapped_column(Integer)
    picked: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    discrepancy: Mapped[int] = mapped_column(Integer, default=0, comment="shipped but never received (at close)")

    __table_args__ = (CheckConstraint("requested > 0 AND picked <= requested AND shipped <= picked "
                                      "AND received + discrepancy <= shipped", name="quantities_in_order"),)


class TransferLot(Base):
    """Which lots a transfer line carries, so they arrive with their codes and dates."""

    __tablename__ = "transfer_lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("transfer_lines.id", ondelete="CASCADE"), index=True)
    lot_code: Mapped[str] = mapped_column(String(64))
    production_date: Mapped[date | None] = mapped_column(Date, default=None)
    expiry_date: Mapped[date | None] = mapped_column(Date, default=None)
    quantity: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)
