"""Profiles and their parts as API responses (shared by the customer routers)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.customers.identify import Resolution
from omniretail.customers.models import Address, Merge, Profile, Suggestion
from omniretail.customers.profiles import addresses_of, identities_of
from omniretail.customers.schemas import (
    AddressOut,
    IdentityOut,
    LoyaltySummary,
    MergeOut,
    ProfileBrief,
    ProfileOut,
    ResolutionOut,
    SuggestionOut,
)


def address_out(a: Address) -> AddressOut:
    return AddressOut(id=a.id, line1=a.line1, line2=a.line2, city=a.city, postcode=a.postcode, region=a.region,
                      country=a.country, phone=a.phone, is_default=a.is_default,
                      failed_deliveries=a.failed_deliveries, last_failed_at=a.last_failed_at)


def _loyalty(session: Session, profile_id: int) -> LoyaltySummary:
    from omniretail.loyalty.models import LoyaltyAccount

    account = session.get(LoyaltyAccount, profile_id)
    return LoyaltySummary(balance=account.balance, tier=account.tier) if account else LoyaltySummary(balance=0,
                                                                                                      tier="member")


def profile_out(session: Session, profile: Profile, *, requested_id: int | None = None,
                resolution: Resolution | None = None) -> ProfileOut:
    created = resolution is not None and resolution.created  # nothing merged into it, no points yet
    if created:
        identities, addresses = resolution.made_identities, resolution.made_addresses  # type: ignore[union-attr]
    else:
        identities = identities_of(session, [profile.id]).get(profile.id, [])
        addresses = addresses_of(session, [profile.id]).get(profile.id, [])
    merged_from = [] if created else list(session.scalars(
        select(Profile.id).where(Profile.merged_into_id == profile.id).order_by(Profile.id)))
    return ProfileOut(
        id=profile.id, status=profile.status, given_name=profile.given_name,  # type: ignore[arg-type]
        family_name=profile.family_name, date_of_birth=profile.date_of_birth, language=profile.language,
        preferred_channel=profile.preferred_channel, email=profile.email, phone=profile.phone,
        created_channel=profile.created_channel, created_at=profile.created_at, updated_at=profile.updated_at,
        identities=[IdentityOut(type=i.type, value=i.value, channel=i.channel, created_at=i.created_at,
                                last_seen_at=i.last_seen_at) for i in identities],
        addresses=[address_out(a) for a in addresses],
        loyalty=LoyaltySummary(balance=0, tier="member") if created else _loyalty(session, profile.id),
        merged_from=merged_from,
        requested_id=requested_id if requested_id is not None and requested_id != profile.id else None,
        resolution=ResolutionOut(matched_by=resolution.matched_by, linked=resolution.linked,
                                 suggestions=resolution.suggestions, merged=resolution.merged)
        if resolution else None)


def suggestion_out(session: Session, suggestion: Suggestion) -> SuggestionOut:
    out = SuggestionOut.model_validate(suggestion, from_attributes=True)
    found = {p.id: p for p in session.scalars(select(Profile).where(
        Profile.id.in_((suggestion.a_id, suggestion.b_id))))}
    homes = addresses_of(session, list(found))
    briefs = []
    for pid in (suggestion.a_id, suggestion.b_id):
        p = found.get(pid)
        if p is not None:
            home = (homes.get(pid) or [None])[0]
            briefs.append(ProfileBrief(id=p.id, status=p.status, given_name=p.given_name, family_name=p.family_name,
                                       date_of_birth=p.date_of_birth, email=p.email, phone=p.phone,
                                       postcode=home.postcode if home else None, city=home.city if home else None))
    return out.model_copy(update={"profiles": briefs})


def merge_out(m: Merge) -> MergeOut:
    moved = {k: (len(v) if isinstance(v, list) else int(v)) for k, v in (m.moved or {}).items()
             if k != "filled" and isinstance(v, list | int)}
    return MergeOut(id=m.id, survivor_id=m.survivor_id, absorbed_id=m.absorbed_id, source=m.source,
                    probability=m.probability, reason=m.reason, moved=moved, actor=m.actor, merged_at=m.merged_at,
                    undone_at=m.undone_at, undone_by=m.undone_by)
