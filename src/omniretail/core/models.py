"""Tables every domain shares: API keys, the transactional outbox and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omniretail.core.clock import utcnow
from omniretail.core.db import Base


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), comment="first characters of the key, shown to humans")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of the key")
    role: Mapped[str] = mapped_column(String(20))
    location_ids: Mapped[list[Any]] = mapped_column(default=list)
    channel: Mapped[str | None] = mapped_column(ForeignKey("channels.code"), default=None)
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxEvent(Base):
    """A domain event written in the transaction that caused it; delivered after commit."""

    __tablename__ = "outbox_events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "seq"),)


class AuditEntry(Base):
    """Who changed what, when, through which channel; append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(50), default=None)
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(100))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (Index("ix_audit_object", "object_type", "object_id", "id"),)


class IdempotencyRecord(Base):
    """The first answer to a request sent with an `Idempotency-Key`, replayed for repeats."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True, comment="the API key (or actor) that sent it")
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64), comment="SHA-256 of method, path and body")
    status_code: Mapped[int] = mapped_column()
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
