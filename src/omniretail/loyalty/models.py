"""Loyalty points: one account per profile (the lock point), an append-only ledger, and rewards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class LoyaltyAccount(Base):
    __tablename__ = "loyalty_accounts"

    profile_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_earned: Mapped[int] = mapped_column(Integer, default=0, comment="points ever earned; sets the tier")
    tier: Mapped[str] = mapped_column(String(20), default="member")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("lifetime_earned >= 0", name="lifetime_not_negative"),
    )


class LoyaltyEntry(Base):
    """One movement of points with its cause; never updated or deleted."""

    __tablename__ = "loyalty_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    points: Mapped[int] = mapped_column(Integer, comment="signed")
    balance_after: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20), comment="earn, spend, redeem, adjust, reverse, merge_in, ...")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    cause_type: Mapped[str | None] = mapped_column(String(20), default=None, comment="order, return, reward, merge")
    cause_id: Mapped[str | None] = mapped_column(String(100), default=None)
    channel: Mapped[str | None] = mapped_column(String(50), default=None)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_loyalty_entries_profile", "profile_id", "id"),
        Index("ix_loyalty_entries_cause", "cause_type", "cause_id"),
    )


class Reward(Base):
    """Something points buy; a gift reward hands out one unit of a gift product."""

    __tablename__ = "loyalty_rewards"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    points: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)
