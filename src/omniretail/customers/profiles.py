"""Reading profiles: follow merges, check who may see whom, build the matcher's view, keep blocking keys."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from omniretail.core.bulk import among, delete_rows
from omniretail.core.clock import utcnow
from omniretail.core.db import insert_ignore
from omniretail.core.errors import Conflict, Forbidden, NotFound
from omniretail.core.security import Actor, Role
from omniretail.core.text import normalise
from omniretail.customers.blocking import blocking_keys
from omniretail.customers.matching import Person
from omniretail.customers.models import Address, BlockingKey, Identity, Profile, TimelineEntry

#: A merge chain longer than this means corrupt data, not a real history of merges.
MAX_MERGE_HOPS = 32
PERSON_FIELDS = ("given_name", "family_name", "date_of_birth", "language", "preferred_channel")
IDENTITY_PERSON_FIELDS = {"email": "emails", "phone": "phones"}


def resolve(session: Session, profile_id: int, *, for_update: bool = False) -> Profile:
    """The profile `profile_id` is now: itself, or the profile it was merged into."""
    seen = 0
    profile = session.get(Profile, profile_id, with_for_update=for_update)
    while profile is not None and profile.status == "merged" and profile.merged_into_id is not None:
        seen += 1
        if seen > MAX_MERGE_HOPS:
            break
        profile = session.get(Profile, profile.merged_into_id, with_for_update=for_update)
    if profile is None:
        raise NotFound(f"No customer {profile_id}", code="unknown_customer")
    return profile


def require_active(profile: Profile) -> None:
    """Refuse to change a merged or erased profile (409 `profile_merged` / `profile_erased`)."""
    if profile.status != "active":
        raise Conflict(f"Customer {profile.id} is {profile.status}", code=f"profile_{profile.status}")


def authorise(session: Session, actor: Actor, profile: Profile) -> None:
    """Customers see only themselves (also through an id that was merged into them); staff see everyone."""
    if actor.role is not Role.CUSTOMER:
        return
    own = actor.customer_id
    if own is None or not own.isdigit() or resolve(session, int(own)).id != profile.id:
        raise Forbidden("A customer key may only act on its own profile", code="not_your_profile")


def get_profile(session: Session, actor: Actor, profile_id: int) -> Profile:
    """Find a profile (following merges) that `actor` may see."""
    profile = resolve(session, profile_id)
    authorise(session, actor, profile)
    return profile


def search_name(given: str | None, family: str | None) -> str | None:
    joined = " ".join(part for part in (family, given) if part)
    return normalise(joined)[:210] or None


def identities_of(session: Session, profile_ids: Iterable[int]) -> dict[int, list[Identity]]:
    found: dict[int, list[Identity]] = defaultdict(list)
    ids = list(profile_ids)
    if ids:
        for identity in session.scalars(select(Identity).where(Identity.profile_id.in_(ids)).order_by(Identity.id)):
            found[identity.profile_id].append(identity)
    return found


def addresses_of(session: Session, profile_ids: Iterable[int]) -> dict[int, list[Address]]:
    found: dict[int, list[Address]] = defaultdict(list)
    ids = list(profile_ids)
    if ids:
        query = select(Address).where(Address.profile_id.in_(ids)).order_by(Address.is_default.desc(), Address.id)
        for address in session.scalars(query):
            found[address.profile_id].append(address)
    return found


def person_of(profile: Profile, identities: list[Any], addresses: list[Any]) -> Person:
    """The matcher's view of a stored profile (identities and addresses as objects or rows with their fields)."""
    emails = tuple(i.value for i in identities if i.type == "email")
    phones = tuple(dict.fromkeys([i.value for i in identities if i.type == "phone"]
                                 + [a.phone for a in addresses if a.phone]))
    strong = tuple(f"{i.type}:{i.value}" for i in identities if i.type not in ("email", "phone"))
    home = addresses[0] if addresses else None
    return Person(given_name=profile.given_name, family_name=profile.family_name,
                  date_of_birth=profile.date_of_birth, emails=emails, phones=phones,
                  line1=home.line1 if home else None, postcode=home.postcode if home else None,
                  city=home.city if home else None, country=home.country if home else None, strong_ids=strong)


def persons(session: Session, profiles: list[Profile]) -> dict[int, Person]:
    ids = [p.id for p in profiles]
    identities: dict[int, list[Any]] = defaultdict(list)
    addresses: dict[int, list[Any]] = defaultdict(list)
    if ids:
        # rows of mapped columns, not objects: the session still flushes first, and no instance is built
        for row in session.execute(select(Identity.profile_id, Identity.type, Identity.value)
                                   .where(among(session, Identity.profile_id, ids)).order_by(Identity.id)):
            identities[row.profile_id].append(row)
        for row in session.execute(select(Address.profile_id, Address.line1, Address.postcode, Address.city,
                                          Address.country, Address.phone)
                                   .where(among(session, Address.profile_id, ids))
                                   .order_by(Address.is_default.desc(), Address.id)):
            addresses[row.profile_id].append(row)
    return {p.id: person_of(p, identities.get(p.id, []), addresses.get(p.id, [])) for p in profiles}


def refresh_keys(session: Session, profile_id: int, person: Person | None, *, new: bool = False) -> None:
    """Store exactly the blocking keys of `person` for the profile (none for a merged or erased one);
    `new`: the profile was created in this transaction and has none yet."""
    wanted = blocking_keys(person) if person is not None else set()
    have = set() if new else set(session.scalars(select(BlockingKey.key).where(BlockingKey.profile_id == profile_id)))
    stale = have - wanted
    if stale:
        session.execute(delete(BlockingKey).where(BlockingKey.profile_id == profile_id, BlockingKey.key.in_(stale)))
    fresh = wanted - have
    if fresh:
        insert_ignore(session, BlockingKey.__table__, [{"key": k, "profile_id": profile_id} for k in sorted(fresh)],
                      conflict=["key", "profile_id"])


def refresh_keys_many(session: Session, people: dict[int, Person]) -> None:
    """`refresh_keys` for many profiles in a few statements."""
    if not people:
        return
    have: dict[int, set[str]] = defaultdict(set)
    for key, pid in session.execute(select(BlockingKey.key, BlockingKey.profile_id)
                                    .where(among(session, BlockingKey.profile_id, people))):
        have[pid].add(key)
    stale, fresh = [], []
    for pid, person in people.items():
        wanted = blocking_keys(person)
        stale += [{"key": key, "profile_id": pid} for key in have[pid] - wanted]
        fresh += [{"key": key, "profile_id": pid} for key in sorted(wanted - have[pid])]
    delete_rows(session, BlockingKey.__table__, stale)
    insert_ignore(session, BlockingKey.__table__, fresh, conflict=["key", "profile_id"])


def candidates(session: Session, person: Person, *, exclude: Iterable[int] = (), limit: int = 40) -> list[Profile]:
    """Active profiles that share a blocking key with `person`, most shared keys first."""
    keys = sorted(blocking_keys(person))
    if not keys:
        return []
    excluded = set(exclude)
    rows = session.execute(select(BlockingKey.profile_id, BlockingKey.key).where(BlockingKey.key.in_(keys))).all()
    shared: dict[int, int] = defaultdict(int)
    for profile_id, _ in rows:
        if profile_id not in excluded:
            shared[profile_id] += 1
    best = sorted(shared, key=lambda pid: (-shared[pid], pid))[:limit]
    if not best:
        return []
    found = session.scalars(select(Profile).where(Profile.id.in_(best), Profile.status == "active")).all()
    return sorted(found, key=lambda p: (-shared[p.id], p.id))


def add_timeline(session: Session, profile_id: int, *, kind: str, summary: str, actor: Actor,
                 channel: str | None = None, data: dict[str, Any] | None = None) -> None:
    """Append an entry to the person's timeline."""
    session.add(TimelineEntry(**timeline_row(profile_id, kind=kind, summary=summary, actor=actor, channel=channel,
                                             data=data)))


def timeline_row(profile_id: int, *, kind: str, summary: str, actor: Actor, channel: str | None = None,
                 data: dict[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
    """The row of a timeline entry, for bulk inserts."""
    return {"profile_id": profile_id, "at": at or utcnow(), "kind": kind, "summary": summary[:300],
            "actor": actor.name, "channel": channel or actor.channel, "data": data or {}}


def mask(kind: str, value: str) -> str:
    """An identity as shown in timelines and audit entries: recognisable to staff, not a copy of it."""
    if kind == "email" and "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:1]}***@{domain}"
    if len(value) <= 4:
        return "***"
    return f"{'*' * (len(value) - 4)}{value[-4:]}" if kind == "phone" else f"{value[:2]}***{value[-2:]}"


def merged_in(session: Session, profile_id: int) -> list[int]:
    """The profiles merged into this one, directly or through a chain of merges."""
    found, frontier = [], [profile_id]
    for _ in range(MAX_MERGE_HOPS):
        frontier = list(session.scalars(select(Profile.id).where(Profile.merged_into_id.in_(frontier))))
        if not frontier:
            break
        found += frontier
    return found
