"""Write many profiles at once (demo data, benchmarks, imports): COPY on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.core.bulk import allocate_ids, insert_rows
from omniretail.core.clock import utcnow
from omniretail.customers.blocking import blocking_keys
from omniretail.customers.identities import SHARED_KINDS
from omniretail.customers.matching import Person
from omniretail.customers.models import Address, BlockingKey, Identity, Profile, TimelineEntry
from omniretail.customers.profiles import search_name


def _identities(person: Person) -> list[tuple[str, str]]:
    found = [("email", e) for e in person.emails] + [("phone", p) for p in person.phones]
    for strong in person.strong_ids:
        kind, _, value = strong.partition(":")
        found.append((kind, value))
    return list(dict.fromkeys(found))


def load_people(session: Session, people: Sequence[Person], *, channels: Sequence[str], actor: str,
                at: Sequence[datetime] | None = None) -> list[int]:
    """Insert the people as new profiles with identities, an address and blocking keys; returns their ids.
    An exclusive identity (e-mail, card, device) already bound to someone stays with them."""
    ids = allocate_ids(session, Profile.__table__, len(people))
    now = utcnow()
    taken: set[tuple[str, str]] = set()
    wanted = {pair for person in people for pair in _identities(person) if pair[0] not in SHARED_KINDS}
    for kind, value in session.execute(select(Identity.type, Identity.value).where(Identity.exclusive)):
        if (kind, value) in wanted:
            taken.add((kind, value))
    profiles, identities, addresses, keys, timeline = [], [], [], [], []
    for i, (pid, person) in enumerate(zip(ids, people, strict=True)):
        when = at[i] if at is not None else now
        channel = channels[i % len(channels)]
        profiles.append({"id": pid, "status": "active", "merged_into_id": None, "given_name": person.given_name,
                         "family_name": person.family_name, "date_of_birth": person.date_of_birth, "language": None,
                         "preferred_channel": None, "email": None, "phone": None,
                         "search_name": search_name(person.given_name, person.family_name),
                         "created_channel": channel, "created_at": when, "updated_at": when, "erased_at": None})
        held = []
        for kind, value in _identities(person):
            exclusive = kind not in SHARED_KINDS
            if exclusive and (kind, value) in taken:
                continue
            if exclusive:
                taken.add((kind, value))
            held.append((kind, value))
            identities.append({"profile_id": pid, "type": kind, "value": value, "exclusive": exclusive,
                               "channel": channel, "created_at": when, "last_seen_at": when})
        profiles[-1]["email"] = next((v for k, v in held if k == "email"), None)
        profiles[-1]["phone"] = next((v for k, v in held if k == "phone"), None)
        if person.line1 and person.city and person.country:
            addresses.append({"profile_id": pid, "line1": person.line1, "line2": None, "city": person.city,
                              "postcode": person.postcode, "region": None, "country": person.country,
                              "phone": None, "is_default": True, "failed_deliveries": 0, "last_failed_at": None,
                              "last_used_at": None, "created_at": when})
        keys.extend({"key": key, "profile_id": pid} for key in sorted(blocking_keys(person)))
        timeline.append({"profile_id": pid, "at": when, "kind": "profile_created", "channel": channel,
                         "actor": actor, "summary": f"Profile created from {channel}", "data": {}})
    insert_rows(session, Profile.__table__, profiles)
    for table, rows in ((Identity.__table__, identities), (Address.__table__, addresses),
                        (BlockingKey.__table__, keys), (TimelineEntry.__table__, timeline)):
        insert_rows(session, table, rows)
    return ids
