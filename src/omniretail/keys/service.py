"""Use cases of API keys: issue, list, revoke."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.channels.service import require_channel
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Invalid, NotFound
from omniretail.core.models import ApiKey
from omniretail.core.schemas import MAX_ID
from omniretail.core.security import Actor, Role, auth_cache, hash_key, new_key
from omniretail.locations.service import get_location


def create_key(session: Session, *, actor: Actor, role: Role, name: str = "", location_ids: list[str] | None = None,
               channel: str | None = None, customer_id: str | None = None) -> tuple[ApiKey, str]:
    """Issue a key with a role and its scope; returns the row and the secret (shown once)."""
    location_ids = list(dict.fromkeys(location_ids or []))
    if role is Role.ASSOCIATE and not location_ids:
        raise Invalid("An associate key is bound to at least one location", field="location_ids",
                      code="scope_required")
    if role is not Role.ASSOCIATE and location_ids:
        raise Invalid("Only associate keys are bound to locations", field="location_ids", code="scope_not_allowed")
    for i, location_id in enumerate(location_ids):
        get_location(session, location_id, field=f"location_ids.{i}")
    if role is Role.INTEGRATION and channel is None:
        raise Invalid("An integration key is bound to a channel", field="channel", code="scope_required")
    if role is not Role.INTEGRATION and channel is not None:
        raise Invalid("Only integration keys are bound to a channel", field="channel", code="scope_not_allowed")
    if channel is not None:
        require_channel(session, channel)
    if (role is Role.CUSTOMER) != (customer_id is not None):
        raise Invalid("customer_id is given exactly for customer keys", field="customer_id",
                      code="scope_required" if role is Role.CUSTOMER else "scope_not_allowed")
    if customer_id is not None:
        customer_id = _customer(session, customer_id)
    secret = new_key()
    row = ApiKey(name=name or f"{role.value} key", prefix=secret[:12], key_hash=hash_key(secret), role=role.value,
                 location_ids=location_ids, channel=channel, customer_id=customer_id, created_at=utcnow(),
                 created_by=actor.name)
    session.add(row)
    session.flush()
    audit.record(session, actor, "key.created", "api_key", str(row.id),
                 {"role": role.value, "name": row.name, "location_ids": location_ids, "channel": channel})
    return row, secret


def list_keys(session: Session, *, limit: int, after_id: int = 0) -> list[ApiKey]:
    """List keys (never their secrets)."""
    return list(session.scalars(select(ApiKey).where(ApiKey.id > after_id).order_by(ApiKey.id).limit(limit)))


def revoke_key(session: Session, *, actor: Actor, key_id: int) -> ApiKey:
    """Revoke a key; it stops working within seconds on every server."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id}", code="unknown_key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor, "key.revoked", "api_key", str(row.id), {})
        auth_cache.clear()
    return row


def _customer(session: Session, customer_id: str) -> str:
    """The id of the (active) profile a customer key acts for."""
    from omniretail.customers.profiles import resolve

    if not customer_id.isdigit() or not 0 < int(customer_id) <= MAX_ID:
        raise Invalid(f"{customer_id!r} is not a customer id", field="customer_id", code="unknown_customer")
    try:
        profile = resolve(session, int(customer_id))
    except NotFound:
        raise Invalid(f"No customer {customer_id}", field="customer_id", code="unknown_customer") from None
    if profile.status != "active":
        raise Invalid(f"Customer {customer_id} was erased", field="customer_id", code="profile_erased")
    return str(profile.id)
