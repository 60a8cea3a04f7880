"""Health, readiness and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from omniretail import __version__
from omniretail.core import audit, migrate
from omniretail.core.deps import DB
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES
from omniretail.core.security import Actor, Role, require

router = APIRouter()


class Health(BaseModel):
    status: str
    version: str


class Readiness(BaseModel):
    status: str
    database: str
    migrations: str
    detail: str | None = None


@router.get("/healthz", response_model=Health, tags=["system"])
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=__version__)


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, tags=["system"])
def readyz(db: DB) -> Any:
    """The database answers and its schema is at the newest migration."""
    try:
        with db.read() as s:
            s.execute(text("SELECT 1"))
        current = migrate.current_revision(db)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        body = Readiness(status="unavailable", database="unreachable", migrations="unknown",
                         detail=type(exc).__name__)
        return JSONResponse(body.model_dump(), status_code=503)
    head = migrate.head_revision()
    if current != head:
        body = Readiness(status="unavailable", database="ok", migrations=f"at {current}, expected {head}",
                         detail="run `omniretail db upgrade`")
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(status="ok", database=db.dialect, migrations=str(current))


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    channel: str | None
    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]
    note: str | None

    model_config = {"from_attributes": True}


class AuditList(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None = None


@router.get("/api/v1/audit", response_model=AuditList, tags=["audit"], responses=PROBLEM_RESPONSES)
def audit_history(
    db: DB, _: Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS))],
    object_type: Annotated[str, Query(max_length=50, examples=["product"])],
    object_id: Annotated[str, Query(max_length=100)], limit: Limit = 50, cursor: Cursor = None,
) -> AuditList:
    """Who changed an object, when and how; newest first."""
    before = cursor_int(decode_cursor(cursor), "before") or None
    with db.read() as s:
        rows = audit.history(s, object_type, object_id, limit=limit + 1, before_id=before)
        more = len(rows) > limit
        return AuditList(items=[AuditOut.model_validate(r) for r in rows[:limit]],
                         next_cursor=encode_cursor({"before": rows[limit - 1].id}) if more else None)
