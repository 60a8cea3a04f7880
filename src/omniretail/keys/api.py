from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from omniretail.core.deps import DB
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES, RowId, problem
from omniretail.core.security import Actor, Role, require
from omniretail.keys import service
from omniretail.keys.schemas import KeyIn, KeyList, KeyOut, NewKeyOut

router = APIRouter(prefix="/api/v1/keys", tags=["keys"], responses=PROBLEM_RESPONSES)
Admin = Annotated[Actor, Depends(require(Role.ADMIN))]


@router.post("", response_model=NewKeyOut, status_code=201)
def create_key(body: KeyIn, db: DB, actor: Admin) -> NewKeyOut:
    """Issue an API key; the secret is in the answer once and never again."""
    with db.write() as s:
        row, secret = service.create_key(s, actor=actor, **body.model_dump())
        return NewKeyOut(**KeyOut.model_validate(row).model_dump(), key=secret)


@router.get("", response_model=KeyList)
def list_keys(db: DB, _: Admin, limit: Limit = 50, cursor: Cursor = None) -> KeyList:
    """List API keys (prefixes only)."""
    with db.read() as s:
        rows = service.list_keys(s, limit=limit + 1, after_id=cursor_int(decode_cursor(cursor), "after"))
        more = len(rows) > limit
        return KeyList(items=[KeyOut.model_validate(r) for r in rows[:limit]],
                       next_cursor=encode_cursor({"after": rows[limit - 1].id}) if more else None)


@router.delete("/{key_id}", response_model=KeyOut, responses={404: problem("`unknown_key`")})
def revoke_key(key_id: RowId, db: DB, actor: Admin) -> KeyOut:
    """Revoke an API key."""
    with db.write() as s:
        return KeyOut.model_validate(service.revoke_key(s, actor=actor, key_id=key_id))
