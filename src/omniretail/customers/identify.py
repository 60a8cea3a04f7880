"""`identify`: any identities and attributes a channel has seen → the one profile of that person."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import Session

from omniretail.channels.service import check_channel
from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.config import get_settings
from omniretail.core.errors import Forbidden, Invalid
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor, Role
from omniretail.customers import addresses, merging
from omniretail.customers.addresses import AddressInput
from omniretail.customers.blocking import blocking_keys
from omniretail.customers.identities import STRENGTH, IdentityValue, normalise
from omniretail.customers.matching import MatchResult, Person, score
from omniretail.customers.models import Address, Identity, Profile
from omniretail.customers.profiles import (
    add_timeline,
    candidates,
    mask,
    person_of,
    persons,
    refresh_keys,
    resolve,
    search_name,
)
from omniretail.customers.thresholds import thresholds

#: How fresh `last_seen_at` of an identity is kept.
LAST_SEEN_GRANULARITY = timedelta(hours=1)


@dataclass(frozen=True)
class IdentityInput:
    type: str
    value: str
    country: str | None = None


@dataclass(frozen=True)
class Attributes:
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    language: str | None = None
    preferred_channel: str | None = None
    address: AddressInput | None = None


@dataclass
class Resolution:
    profile: Profile
    created: bool
    matched_by: str
    linked: list[str] = field(default_factory=list)
    suggestions: list[int] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)
    #: Rows this request wrote for a profile it created: all the profile has, so nothing is read back.
    made_identities: list[Identity] = field(default_factory=list)
    made_addresses: list[Address] = field(default_factory=list)
    changed: bool = False  # an identity linked, a blank filled or an address saved


def _values(identities: list[IdentityInput]) -> list[IdentityValue]:
    region = get_settings().default_region
    seen: dict[tuple[str, str], IdentityValue] = {}
    for i, given in enumerate(identities):
        value = normalise(given.type, given.value, region=given.country, default_region=region,
                          field=f"identities.{i}.value")
        seen.setdefault((value.type, value.value), value)
    return list(seen.values())


def _incoming(values: list[IdentityValue], attributes: Attributes, address: dict | None) -> Person:
    return Person(given_name=attributes.given_name, family_name=attributes.family_name,
                  date_of_birth=attributes.date_of_birth,
                  emails=tuple(v.value for v in values if v.type == "email"),
                  phones=tuple(v.value for v in values if v.type == "phone"),
                  line1=address["line1"] if address else None, postcode=address["postcode"] if address else None,
                  city=address["city"] if address else None, country=address["country"] if address else None,
                  strong_ids=tuple(f"{v.type}:{v.value}" for v in values if v.type not in ("email", "phone")))


def _serialise(session: Session, values: list[IdentityValue], incoming: Person) -> None:
    """On PostgreSQL, two requests about the same person (an identity, or a name that blocks together) take turns,
    so a double submit cannot create the person twice. Locks are taken in one statement, in a fixed order, and
    held to the end of the transaction. SQLite runs one writer at a time anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return
    names = [f"{v.type}:{v.value}" for v in values] + sorted(blocking_keys(incoming))
    keys = sorted({int.from_bytes(hashlib.blake2b(n.encode(), digest_size=8).digest(), "big", signed=True)
                   for n in names})
    session.execute(text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"),
                    {"keys": keys})


def _bound(session: Session, values: list[IdentityValue]) -> list[Identity]:
    if not values:
        return []
    match = or_(*(and_(Identity.type == v.type, Identity.value == v.value) for v in values))
    return list(session.scalars(select(Identity).where(match).order_by(Identity.id)))


def _contradicts(result: MatchResult) -> bool:
    return any(reason.endswith("_conflict") for reason in result.reasons)


def _pick_by_phone(session: Session, incoming: Person, rows: list[Identity]) -> Profile | None:
    """A phone may be a household's landline: it identifies a person only if nothing they said contradicts it."""
    profiles = [resolve(session, pid) for pid in dict.fromkeys(r.profile_id for r in rows)]
    profiles = [p for p in profiles if p.status == "active"]
    if not profiles:
        return None
    if incoming.given_name is None and incoming.date_of_birth is None:
        last_seen = {r.profile_id: r.last_seen_at for r in rows}
        return max(profiles, key=lambda p: (last_seen.get(p.id) or p.created_at, p.id))
    scored = [(score(person, incoming), p) for p, person in zip(profiles, persons(session, profiles).values(),
                                                                 strict=True)]
    fitting = [(r.probability, p.id, p) for r, p in scored if not _contradicts(r)]
    return max(fitting)[2] if fitting else None


def _fuzzy(session: Session, incoming: Person) -> tuple[Profile | None, MatchResult | None]:
    found = candidates(session, incoming)
    if not found:
        return None, None
    scored = [(score(person, incoming), pid) for pid, person in persons(session, found).items()]
    best, best_id = max(scored, key=lambda pair: (pair[0].probability, -pair[1]))
    return next(p for p in found if p.id == best_id), best


def _fill(profile: Profile, attributes: Attributes) -> list[str]:
    """Fill the profile's blanks from what the channel said; never overwrite what it holds."""
    filled = []
    for name in ("given_name", "family_name", "date_of_birth", "language", "preferred_channel"):
        value = getattr(attributes, name)
        if value is not None and getattr(profile, name) is None:
            setattr(profile, name, value)
            filled.append(name)
    if filled:
        profile.search_name = search_name(profile.given_name, profile.family_name)
    return filled


def identify(session: Session, *, actor: Actor, channel: str, identities: list[IdentityInput],
             attributes: Attributes) -> Resolution:
    """Return the one profile of the person these identities and attributes describe: existing, extended or new."""
    if actor.role is Role.INTEGRATION and actor.channel != channel:
        raise Forbidden(f"This key speaks for channel {actor.channel!r}, not {channel!r}", code="channel_out_of_scope")
    check_channel(session, channel)
    if attributes.preferred_channel is not None:
        check_channel(session, attributes.preferred_channel, field="attributes.preferred_channel")
    values = _values(identities)
    address = (addresses.validate(attributes.address, field="attributes.address",
                                  default_region=get_settings().default_region) if attributes.address else None)
    incoming = _incoming(values, attributes, address)
    if not values and not (incoming.given_name or incoming.family_name):
        raise Invalid("Say who it is: at least one identity or a name", field="identities",
                      code="nothing_to_identify")
    bound = _bound(session, values)
    if not any(r.exclusive for r in bound):
        # This request may create the person: take turns with any other request about them, then look again.
        _serialise(session, values, incoming)
        bound = _bound(session, values)
    exclusive = sorted((r for r in bound if r.exclusive), key=lambda r: (STRENGTH[r.type], r.id))
    limits = thresholds()
    profile: Profile | None = None
    matched_by, nearest, fuzzy_result = "new", None, None
    if exclusive:
        profile, matched_by = resolve(session, exclusive[0].profile_id), exclusive[0].type
    elif bound:
        profile = _pick_by_phone(session, incoming, bound)
        matched_by = "phone" if profile is not None else "new"
    if profile is None and (incoming.given_name or incoming.family_name):
        nearest, fuzzy_result = _fuzzy(session, incoming)
        if nearest is not None and fuzzy_result is not None and fuzzy_result.probability >= limits.auto:
            profile, matched_by = nearest, "fuzzy"
    created = profile is None
    if profile is None:
        profile = _create(session, actor, channel, attributes, values)
    resolution = Resolution(profile=profile, created=created, matched_by=matched_by)
    changed = _extend(session, actor, channel, resolution, values, bound, attributes, address)
    resolution.changed = changed
    profile = resolution.profile
    if created and nearest is not None and fuzzy_result is not None and fuzzy_result.probability >= limits.review:
        suggestion = merging.suggest(session, actor=actor, a_id=nearest.id, b_id=profile.id, result=fuzzy_result,
                                     source="identify")
        resolution.suggestions.append(suggestion.id)
    if changed or created:
        person = (person_of(profile, resolution.made_identities, resolution.made_addresses) if created
                  else _person(session, profile))
        refresh_keys(session, profile.id, person, new=created)
    return resolution


def _person(session: Session, profile: Profile) -> Person:
    return persons(session, [profile])[profile.id]


def _create(session: Session, actor: Actor, channel: str, attributes: Attributes,
            values: list[IdentityValue]) -> Profile:
    now = utcnow()
    profile = Profile(status="active", given_name=attributes.given_name, family_name=attributes.family_name,
                      date_of_birth=attributes.date_of_birth, language=attributes.language,
                      preferred_channel=attributes.preferred_channel, created_channel=channel,
                      search_name=search_name(attributes.given_name, attributes.family_name),
                      email=next((v.value for v in values if v.type == "email"), None),
                      phone=next((v.value for v in values if v.type == "phone"), None),
                      created_at=now, updated_at=now)
    session.add(profile)
    session.flush()
    add_timeline(session, profile.id, kind="profile_created", summary=f"Profile created from {channel}",
                 actor=actor, channel=channel)
    audit.record(session, actor, "customer.created", "customer", str(profile.id), {"channel": channel})
    emit(session, Event("customer.created", "customer", str(profile.id), {"channel": channel}))
    return profile


def _extend(session: Session, actor: Actor, channel: str, resolution: Resolution, values: list[IdentityValue],
            bound: list[Identity], attributes: Attributes, address: dict | None) -> bool:
    now = utcnow()
    owners: dict[tuple[str, str], list[Identity]] = {}
    for row in bound:
        owners.setdefault((row.type, row.value), []).append(row)
    changed = False
    for value in values:
        profile = resolution.profile  # a merge on a shared identity may have replaced it
        rows = owners.get((value.type, value.value), [])
        mine = [r for r in rows if resolve(session, r.profile_id).id == profile.id]
        if mine:
            for row in mine:
                if row.last_seen_at < now - LAST_SEEN_GRANULARITY:  # not a write on every visit
                    row.last_seen_at = now
            continue
        if value.exclusive and rows:
            _conflict(session, actor, resolution, value, resolve(session, rows[0].profile_id))
            continue
        made = Identity(profile_id=profile.id, type=value.type, value=value.value, exclusive=value.exclusive,
                        channel=channel, created_at=now, last_seen_at=now)
        session.add(made)
        resolution.made_identities.append(made)
        _set_primary(profile, value)
        resolution.linked.append(value.type)
        add_timeline(session, profile.id, kind="identity_linked", actor=actor, channel=channel,
                     summary=f"{value.type.replace('_', ' ').capitalize()} {mask(value.type, value.value)} linked",
                     data={"type": value.type})
        changed = True
    profile = resolution.profile
    filled = _fill(profile, attributes)
    if filled and not resolution.created:
        add_timeline(session, profile.id, kind="profile_updated", actor=actor, channel=channel,
                     summary="Added " + ", ".join(f.replace("_", " ") for f in filled), data={"fields": filled})
    if address is not None:
        saved, added = addresses.save(session, actor=actor, profile=profile, fields=address, channel=channel,
                                      new_profile=resolution.created)
        resolution.made_addresses.append(saved)
        changed |= added
    if (changed or filled) and not resolution.created:
        profile.updated_at = now
    if changed or filled:
        session.flush()
        if not resolution.created:
            audit.record(session, actor, "customer.extended", "customer", str(profile.id),
                         {"identities": resolution.linked, "fields": filled})
    return changed or bool(filled)


def _set_primary(profile: Profile, value: IdentityValue) -> None:
    if value.type == "email" and profile.email is None:
        profile.email = value.value
    elif value.type == "phone" and profile.phone is None:
        profile.phone = value.value


def _conflict(session: Session, actor: Actor, resolution: Resolution, value: IdentityValue, owner: Profile) -> None:
    """An identity bound to another profile is never taken from it: the pair becomes a merge candidate."""
    if owner.id == resolution.profile.id or owner.status != "active":
        return
    session.flush()
    here, there = persons(session, [resolution.profile, owner]).values()
    result = score(here, there)
    result = MatchResult(result.probability, tuple(dict.fromkeys((*result.reasons, f"shared_{value.type}"))))
    if (result.probability >= thresholds().auto and not resolution.created
            and not merging.rejected(session, owner.id, resolution.profile.id)):
        merge = merging.merge(session, actor=actor, survivor_id=min(owner.id, resolution.profile.id),
                              absorbed_id=max(owner.id, resolution.profile.id), source="identify",
                              probability=result.probability)
        resolution.profile = resolve(session, merge.survivor_id)
        resolution.merged.append(merge.absorbed_id)
        return
    suggestion = merging.suggest(session, actor=actor, a_id=owner.id, b_id=resolution.profile.id, result=result,
                                 source="shared_identity")
    if suggestion.status == "pending":  # a pair staff decided on is not queued again
        resolution.suggestions.append(suggestion.id)

