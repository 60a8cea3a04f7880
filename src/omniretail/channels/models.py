"""The registry of sales and service channels that orders, carts and messages refer to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class Channel(Base):
    __tablename__ = "channels"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    sales: Mapped[bool] = mapped_column(default=True, comment="orders can be placed through it")
    service: Mapped[bool] = mapped_column(default=True, comment="customers can talk to staff through it")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
