from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from omniretail.core.security import Role


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(default="", max_length=200)
    location_ids: list[str] = Field(default_factory=list, description="Required for `associate`")
    channel: str | None = Field(default=None, description="Required for `integration`")
    customer_id: str | None = Field(default=None, description="Required for `customer`")


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    role: str
    location_ids: list[str]
    channel: str | None
    customer_id: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The secret; shown this once only")


class KeyList(BaseModel):
    items: list[KeyOut]
    next_cursor: str | None = None
