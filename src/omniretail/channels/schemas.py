from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from omniretail.channels.kinds import KINDS

ChannelKind = Literal[KINDS]  # type: ignore[valid-type]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,49}$", examples=["marketplace-zalando"])
    kind: ChannelKind
    name: str = Field(min_length=1, max_length=200)
    sales: bool = True
    service: bool = True


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    kind: str
    name: str
    sales: bool
    service: bool
    active: bool


class ChannelList(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None = None
