"""Profile use cases that are neither identification nor merging: look-up, edits, timeline."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.channels.service import require_channel
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.config import get_settings
from omniretail.core.errors import Invalid
from omniretail.core.security import Actor
from omniretail.core.text import normalise
from omniretail.customers.identities import normalise_email, normalise_phone
from omniretail.customers.models import Identity, Profile, TimelineEntry
from omniretail.customers.profiles import add_timeline, persons, refresh_keys, require_active, resolve, search_name

EDITABLE = ("given_name", "family_name", "date_of_birth", "language", "preferred_channel")
_DIGITS = re.compile(r"^[+\d][\d\s()./-]{3,}$")


def update_profile(session: Session, *, actor: Actor, profile: Profile, changes: dict[str, object]) -> Profile:
    """Change a profile's names, date of birth, language or preferred channel."""
    require_active(profile)
    if changes.get("preferred_channel") is not None:
        require_channel(session, str(changes["preferred_channel"]), field="preferred_channel")
    changed = [name for name in EDITABLE if name in changes and getattr(profile, name) != changes[name]]
    if not changed:
        return profile
    for name in changed:
        setattr(profile, name, changes[name])
    profile.search_name = search_name(profile.given_name, profile.family_name)
    profile.updated_at = utcnow()
    session.flush()
    refresh_keys(session, profile.id, persons(session, [profile])[profile.id])
    add_timeline(session, profile.id, kind="profile_updated", actor=actor,
                 summary="Changed " + ", ".join(n.replace("_", " ") for n in changed), data={"fields": changed})
    audit.record(session, actor, "customer.updated", "customer", str(profile.id), {"fields": changed})
    return profile


def find(session: Session, *, q: str, limit: int) -> list[Profile]:
    """Staff look-up from one search box: an e-mail, a phone or card number, or the start of a name."""
    q = q.strip()
    if not q:
        raise Invalid("Say what to look for", field="q", code="invalid_query")
    values: list[tuple[str, str]] = []
    if "@" in q:
        values.append(("email", normalise_email(q, field="q")))
    elif any(ch.isdigit() for ch in q) and (_DIGITS.match(q) or " " not in q):
        compact = re.sub(r"[\s()./-]", "", q)
        values += [("loyalty_card", compact.upper()), ("pos_customer_id", compact.upper()), ("device_id", q)]
    if _DIGITS.match(q) and "@" not in q:
        try:
            values.append(("phone", normalise_phone(q, region=None if q.startswith("+") else
                                                    get_settings().default_region, field="q")))
        except Invalid:
            pass
    if values:
        ids = {resolve(session, pid).id for t, v in values for pid in session.scalars(
            select(Identity.profile_id).where(Identity.type == t, Identity.value == v))}
        found = [session.get(Profile, pid) for pid in sorted(ids)]
        return [p for p in found if p is not None and p.status == "active"][:limit]
    prefix = normalise(" ".join(q.split()))
    query = (select(Profile).where(Profile.search_name >= prefix, Profile.search_name < prefix + "\uffff",
                                   Profile.status == "active").order_by(Profile.search_name, Profile.id).limit(limit))
    return list(session.scalars(query))


def timeline(session: Session, profile_id: int, *, limit: int, before_id: int | None = None) -> list[TimelineEntry]:
    """The person's timeline across channels, newest first."""
    query = select(TimelineEntry).where(TimelineEntry.profile_id == profile_id)
    if before_id is not None:
        query = query.where(TimelineEntry.id < before_id)
    return list(session.scalars(query.order_by(TimelineEntry.id.desc()).limit(limit)))
