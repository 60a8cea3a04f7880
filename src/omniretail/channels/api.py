from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from omniretail.channels import service
from omniretail.channels.schemas import ChannelIn, ChannelList, ChannelOut
from omniretail.core.deps import DB
from omniretail.core.schemas import PROBLEM_RESPONSES, problem
from omniretail.core.security import EVERYONE, Actor, Role, require

router = APIRouter(prefix="/api/v1/channels", tags=["channels"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=ChannelList)
def list_channels(db: DB, _: Annotated[Actor, Depends(require(*EVERYONE))]) -> ChannelList:
    """List the sales and service channels."""
    with db.read() as s:
        return ChannelList(items=[ChannelOut.model_validate(c) for c in service.list_channels(s)])


@router.post("", response_model=ChannelOut, status_code=201, responses={409: problem("`duplicate_channel`")})
def register_channel(body: ChannelIn, db: DB, actor: Annotated[Actor, Depends(require(Role.ADMIN))]) -> ChannelOut:
    """Register a channel (e.g. a second marketplace)."""
    with db.write() as s:
        return ChannelOut.model_validate(service.register_channel(s, actor=actor, **body.model_dump()))


@router.get("/{code}", response_model=ChannelOut, responses={404: problem("`unknown_channel`")})
def get_channel(code: str, db: DB, _: Annotated[Actor, Depends(require(*EVERYONE))]) -> ChannelOut:
    """Show one channel."""
    with db.read() as s:
        return ChannelOut.model_validate(service.get_channel(s, code))
