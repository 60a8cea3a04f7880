"""Opaque cursors for paginated lists (`limit` default 50, max 500; `next_cursor`)."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from omniretail.core.errors import Invalid

MAX_POSITION = 2**31 - 1
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (max 500)")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


def encode_cursor(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The cursor is not one this server issued", field="cursor", code="invalid_cursor") from None
    if not isinstance(value, dict):
        raise Invalid("The cursor is not one this server issued", field="cursor", code="invalid_cursor")
    return value


def cursor_int(cursor: dict[str, Any], key: str, default: int = 0) -> int:
    value = cursor.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_POSITION:
        raise Invalid("The cursor is not one this server issued", field="cursor", code="invalid_cursor")
    return value
