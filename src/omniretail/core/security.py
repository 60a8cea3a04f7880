"""Who is calling: API keys, roles and scopes, and the FastAPI dependency every router uses.

Keys are 256-bit random tokens; only their SHA-256 is stored, so a key made by
`omniretail keys create` works against any server on the same database and a leaked
database does not leak usable keys.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from omniretail.core.cache import TTLCache
from omniretail.core.errors import Forbidden, Unauthorized

KEY_PREFIX = "omr_"
AUTH_CACHE_SECONDS = 5.0


class Role(StrEnum):
    ADMIN = "admin"
    OPERATIONS = "operations"
    ASSOCIATE = "associate"
    AGENT = "agent"
    INTEGRATION = "integration"
    CUSTOMER = "customer"


STAFF = (Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.AGENT, Role.INTEGRATION)
EVERYONE = (*STAFF, Role.CUSTOMER)


@dataclass(frozen=True)
class Actor:
    """The authenticated caller (or the CLI/system), with its role and scope."""

    name: str
    role: Role
    key_id: int | None = None
    channel: str | None = None
    location_ids: frozenset[str] = field(default_factory=frozenset)
    customer_id: str | None = None

    def can_access_location(self, location_id: str) -> bool:
        if self.role is Role.ASSOCIATE:
            return location_id in self.location_ids
        return self.role in (Role.ADMIN, Role.OPERATIONS, Role.AGENT, Role.INTEGRATION)

    def require_location(self, location_id: str) -> None:
        if not self.can_access_location(location_id):
            raise Forbidden(f"This key may not act on location {location_id!r}", code="location_out_of_scope")


SYSTEM = Actor(name="system", role=Role.ADMIN)


def cli_actor() -> Actor:
    """The actor recorded for changes made from the command line."""
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = "unknown"
    return Actor(name=f"cli:{user}", role=Role.ADMIN)


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


#: A few seconds of memory so a busy channel doesn't hit the keys table on every call.
auth_cache: TTLCache[Actor] = TTLCache(AUTH_CACHE_SECONDS)


def authenticate(session, token: str) -> Actor:  # type: ignore[no-untyped-def]
    """Return the actor a bearer token stands for, or raise 401."""
    key_hash = hash_key(token)
    return auth_cache.get(key_hash) or _load_actor(session, key_hash)


def _load_actor(session, key_hash: str) -> Actor:  # type: ignore[no-untyped-def]
    from omniretail.core.models import ApiKey

    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("The API key is unknown or revoked", code="invalid_key")
    actor = Actor(
        name=f"key:{row.id}:{row.name}",
        role=Role(row.role),
        key_id=row.id,
        channel=row.channel,
        location_ids=frozenset(row.location_ids or ()),
        customer_id=row.customer_id,
    )
    auth_cache.put(key_hash, actor)
    return actor


def _load_from_db(db, key_hash: str) -> Actor:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return _load_actor(session, key_hash)


_bearer = HTTPBearer(auto_error=False, description="An API key made with `omniretail keys create`")


def require(*roles: Role) -> Callable[..., Actor]:
    """A dependency that authenticates the caller and admits only `roles`."""
    allowed = frozenset(roles)

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Actor:
        if credentials is None or not credentials.credentials:
            raise Unauthorized("Send an API key as `Authorization: Bearer <key>`", code="missing_key")
        key_hash = hash_key(credentials.credentials)
        actor = auth_cache.get(key_hash)
        if actor is None:
            actor = await run_in_threadpool(_load_from_db, request.app.state.db, key_hash)
        if actor.role not in allowed:
            raise Forbidden(f"The {actor.role.value} role may not do this", code="role_forbidden")
        return actor

    dependency.__name__ = "require_" + "_".join(sorted(r.value for r in allowed))
    return dependency
