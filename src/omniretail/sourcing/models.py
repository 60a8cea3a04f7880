"""The sourcing decision of each delivery order, as the engine explained it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class SourcingDecision(Base):
    __tablename__ = "sourcing_decisions"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    policy: Mapped[str] = mapped_column(String(20))
    total_cost: Mapped[float] = mapped_column(Float)
    packages: Mapped[int] = mapped_column(Integer)
    split: Mapped[bool] = mapped_column(default=False)
    decision: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="locations, cost breakdown, alternatives")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
