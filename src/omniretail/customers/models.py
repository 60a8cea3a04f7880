"""One person across channels: profiles, their identities, addresses, consents, merges and timeline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class Profile(Base):
    """A person. A merged profile keeps its row and points at the profile that absorbed it."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="active", comment="active, merged, erased")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), default=None)
    given_name: Mapped[str | None] = mapped_column(String(100), default=None)
    family_name: Mapped[str | None] = mapped_column(String(100), default=None)
    date_of_birth: Mapped[date | None] = mapped_column(Date, default=None)
    language: Mapped[str | None] = mapped_column(String(20), default=None)
    preferred_channel: Mapped[str | None] = mapped_column(String(50), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None, comment="primary e-mail, normalised")
    phone: Mapped[str | None] = mapped_column(String(20), default=None, comment="primary phone, E.164")
    search_name: Mapped[str | None] = mapped_column(String(210), default=None,
                                                    comment="folded 'family given' for staff look-ups")
    created_channel: Mapped[str | None] = mapped_column(String(50), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_customers_search_name", "search_name"),
        Index("ix_customers_merged_into", "merged_into_id"),
    )


class Identity(Base):
    """An identifier a channel knows the person by. Exclusive kinds (e-mail, card, device…) name one
    person; a phone may be a household's landline and can be shared."""

    __tablename__ = "customer_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(320), comment="normalised: lower-case e-mail, E.164 phone")
    exclusive: Mapped[bool] = mapped_column(default=True)
    channel: Mapped[str | None] = mapped_column(String(50), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_customer_identities_value", "type", "value"),
        Index("uq_customer_identities_exclusive", "type", "value", unique=True,
              sqlite_where=text("exclusive"), postgresql_where=text("exclusive")),
        UniqueConstraint("profile_id", "type", "value", name="uq_customer_identities_profile"),
    )


class Address(Base):
    __tablename__ = "customer_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(20), default=None)
    region: Mapped[str | None] = mapped_column(String(100), default=None)
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(20), default=None, comment="contact phone for deliveries, E.164")
    is_default: Mapped[bool] = mapped_column(default=False)
    failed_deliveries: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """One recorded decision (append-only); the latest per purpose and channel is in force."""

    __tablename__ = "customer_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(50), comment="the contact channel it covers, or 'all'")
    granted: Mapped[bool] = mapped_column()
    wording_version: Mapped[str] = mapped_column(String(50))
    source_channel: Mapped[str | None] = mapped_column(String(50), default=None)
    actor: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_customer_consents_profile", "profile_id", "purpose", "channel", "id"),)


class BlockingKey(Base):
    """Short keys that put likely duplicates side by side, so matching compares tens of profiles, not all."""

    __tablename__ = "customer_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[int] = mapped_column(Integer, primary_key=True)

    __table_args__ = (Index("ix_customer_keys_profile", "profile_id"),)


class Suggestion(Base):
    """A scored pair of profiles that may be one person, waiting for staff (or merged/rejected)."""

    __tablename__ = "customer_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    a_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    b_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    probability: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(20), comment="identify, shared_identity, dedupe")
    status: Mapped[str] = mapped_column(String(10), default="pending", comment="pending, merged, rejected, obsolete")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by: Mapped[str | None] = mapped_column(String(200), default=None)

    __table_args__ = (
        UniqueConstraint("a_id", "b_id", name="uq_customer_suggestions_pair"),
        Index("ix_customer_suggestions_status", "status", "probability"),
    )


class Merge(Base):
    """What a merge moved, so that an unmerge can put it back."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    absorbed_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    source: Mapped[str] = mapped_column(String(20), comment="staff, identify, dedupe, suggestion")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    probability: Mapped[float | None] = mapped_column(Float, default=None)
    moved: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="row ids moved per table, fields filled")
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(50), default=None)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(default=None)
    undone_by: Mapped[str | None] = mapped_column(String(200), default=None)

    __table_args__ = (
        Index("ix_customer_merges_survivor", "survivor_id"),
        Index("ix_customer_merges_absorbed", "absorbed_id"),
    )


class TimelineEntry(Base):
    """Something that happened to a person, in any channel; newest first in the API."""

    __tablename__ = "customer_timeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(50), default=None)
    actor: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_customer_timeline_profile", "profile_id", "id"),)
