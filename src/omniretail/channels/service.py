"""Use cases of the channel registry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.channels.kinds import KINDS, STANDARD_CHANNELS
from omniretail.channels.models import Channel
from omniretail.core import audit
from omniretail.core.cache import TTLCache
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Invalid, NotFound, register_unique_constraint
from omniretail.core.security import Actor

register_unique_constraint("pk_channels", "channels.code", code="duplicate_channel",
                           detail="A channel with this code already exists")


def list_channels(session: Session) -> list[Channel]:
    """List every registered channel."""
    return list(session.scalars(select(Channel).order_by(Channel.code)))


def get_channel(session: Session, code: str) -> Channel:
    """Return one channel or raise `unknown_channel`."""
    channel = session.get(Channel, code)
    if channel is None:
        raise NotFound(f"No channel {code!r}", code="unknown_channel")
    return channel


#: Active channel codes seen lately, per database (channels are registered, rarely retired; hot paths ask often).
active_seen: TTLCache[bool] = TTLCache(5.0)


def check_channel(session: Session, code: str, *, field: str = "channel") -> None:
    """Refuse (422 naming `field`) a channel that is unknown or inactive; remembered for a few seconds."""
    key = (str(session.get_bind().engine.url), code)
    if active_seen.get(key):
        return
    require_channel(session, code, field=field)
    active_seen.put(key, True)


def require_channel(session: Session, code: str, *, field: str = "channel") -> Channel:
    """Return an active channel, or raise a 422 naming the field that referred to it."""
    channel = session.get(Channel, code)
    if channel is None or not channel.active:
        raise Invalid(f"Unknown or inactive channel {code!r}", field=field, code="unknown_channel")
    return channel


def register_channel(session: Session, *, actor: Actor, code: str, kind: str, name: str,
                     sales: bool = True, service: bool = True) -> Channel:
    """Register a new channel of a known kind."""
    if kind not in KINDS:
        raise Invalid(f"Unknown channel kind {kind!r}", field="kind", code="invalid_channel_kind")
    if session.get(Channel, code) is not None:
        raise Conflict(f"A channel {code!r} already exists", code="duplicate_channel")
    channel = Channel(code=code, kind=kind, name=name, sales=sales, service=service, active=True,
                      created_at=utcnow())
    session.add(channel)
    audit.record(session, actor, "channel.registered", "channel", code, {"kind": kind, "name": name})
    return channel


def standard_channel_rows() -> list[dict[str, object]]:
    return [
        {"code": code, "kind": code, "name": name, "sales": sales, "service": service, "active": True}
        for code, (name, sales, service) in STANDARD_CHANNELS.items()
    ]
