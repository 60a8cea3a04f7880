"""The entries tills uploaded after working offline, each processed once: replays answer the stored result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base

ENTRY_KINDS = ("sale", "return", "count")
#: What became of an entry the first time: recorded; recorded with units promised online found nowhere else;
#: not recorded (nothing of it was written).
ENTRY_STATUSES = ("applied", "conflict", "refused")


class PosEntry(Base):
    """A sale, return or count a till made offline, by the till's own id of it, with the result it had."""

    __tablename__ = "pos_entries"

    till_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(100), primary_key=True, comment="the till's own id of the entry")
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), comment="the till's store")
    kind: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime] = mapped_column(comment="when it happened at the till")
    status: Mapped[str] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(64), default=None, comment="why it was refused or conflicted")
    fingerprint: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the entry as first sent")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None, comment="a sale's order")
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id"), default=None)
    count_id: Mapped[int | None] = mapped_column(ForeignKey("stock_counts.id"), default=None)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="the answer given the first time")
    actor: Mapped[str] = mapped_column(String(200))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in ENTRY_KINDS) + ")", name="kind_known"),
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in ENTRY_STATUSES) + ")", name="status_known"),
        Index("ix_pos_entries_location", "location_id", "processed_at"),
        Index("ix_pos_entries_order", "order_id"),
    )
