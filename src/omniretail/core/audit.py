"""Append one audit entry per state change, in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.core.clock import utcnow
from omniretail.core.models import AuditEntry
from omniretail.core.security import Actor


def entry_row(actor: Actor, action: str, object_type: str, object_id: str, changes: dict[str, Any] | None = None,
              note: str | None = None, *, at: datetime | None = None) -> dict[str, Any]:
    """The audit row of a change, for bulk inserts."""
    return {"at": at or utcnow(), "actor": actor.name, "channel": actor.channel, "action": action,
            "object_type": object_type, "object_id": str(object_id), "changes": changes or {}, "note": note}


def record(session: Session, actor: Actor, action: str, object_type: str, object_id: str,
           changes: dict[str, Any] | None = None, note: str | None = None) -> AuditEntry:
    """Append an audit entry for a change made by `actor`."""
    entry = AuditEntry(**entry_row(actor, action, object_type, object_id, changes, note))
    session.add(entry)
    return entry


def history(session: Session, object_type: str, object_id: str, *, limit: int = 50,
            before_id: int | None = None) -> list[AuditEntry]:
    """List an object's audit entries, newest first."""
    query = select(AuditEntry).where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
