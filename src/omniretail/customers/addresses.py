"""Saved addresses: validated once, reused to pre-fill the next order, flagged when a delivery failed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel import Locale
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Invalid, NotFound
from omniretail.core.security import Actor
from omniretail.customers.identities import normalise_phone
from omniretail.customers.matching import street_parts
from omniretail.customers.models import Address, Profile
from omniretail.customers.profiles import add_timeline, require_active

#: ISO 3166-1 countries whose addresses have no postal code; everywhere else a postcode is required.
NO_POSTCODE = frozenset(
    "AE AG AO AW BF BI BJ BO BS BW BZ CD CF CG CI CK CM DJ DM ER FJ GD GH GM GQ GY HK KI KM KN KP ML MO MR MW NR NU "
    "QA RW SB SC SL SR ST SY TD TF TG TK TL TO TV UG VU YE ZW".split())
_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$")
_TERRITORIES = frozenset(code for code in Locale("en").territories if len(code) == 2 and code.isalpha())


@dataclass(frozen=True)
class AddressInput:
    line1: str
    city: str
    country: str
    postcode: str | None = None
    line2: str | None = None
    region: str | None = None
    phone: str | None = None


def _clean(value: str | None) -> str | None:
    value = " ".join(value.split()) if value else None
    return value or None


def validate(address: AddressInput, *, field: str, default_region: str) -> dict[str, str | None]:
    """Checked and tidied address fields; 422 naming the first bad field."""
    country = (address.country or "").strip().upper()
    if country not in _TERRITORIES:
        raise Invalid(f"{address.country!r} is not an ISO 3166-1 country code", field=f"{field}.country",
                      code="invalid_country")
    line1, city = _clean(address.line1), _clean(address.city)
    if not line1:
        raise Invalid("The street address is empty", field=f"{field}.line1", code="incomplete_address")
    if not city:
        raise Invalid("The city is empty", field=f"{field}.city", code="incomplete_address")
    postcode = _clean(address.postcode)
    if postcode is None and country not in NO_POSTCODE:
        raise Invalid(f"Addresses in {country} need a postcode", field=f"{field}.postcode", code="missing_postcode")
    if postcode is not None and not _POSTCODE.match(postcode):
        raise Invalid(f"{postcode!r} is not a postcode", field=f"{field}.postcode", code="invalid_postcode")
    phone = _clean(address.phone)
    if phone is not None:
        phone = normalise_phone(phone, region=country or default_region, field=f"{field}.phone")
    return {"line1": line1, "line2": _clean(address.line2), "city": city, "postcode": postcode.upper()
            if postcode else None, "region": _clean(address.region), "country": country, "phone": phone}


def same_place(a: Address, fields: dict[str, str | None]) -> bool:
    """The same street and house number in the same postcode ("Lindenstr. 5" is "Lindenstraße 5")."""
    def key(line1: str | None, postcode: str | None, country: str | None) -> tuple[tuple[str, str], str, str]:
        return street_parts(line1), (postcode or "").replace(" ", "").upper(), country or ""
    return key(a.line1, a.postcode, a.country) == key(fields["line1"], fields["postcode"], fields["country"])


def save(session: Session, *, actor: Actor, profile: Profile, fields: dict[str, str | None],
         make_default: bool = False, channel: str | None = None, new_profile: bool = False) -> tuple[Address, bool]:
    """Save a validated address on the profile unless it already holds it; returns (address, created).
    `new_profile`: the profile was created in this transaction and holds no address yet."""
    require_active(profile)
    existing = [] if new_profile else list(session.scalars(select(Address).where(Address.profile_id == profile.id)))
    for address in existing:
        if same_place(address, fields):
            if make_default and not address.is_default:
                _make_default(session, profile.id, address)
            return address, False
    address = Address(profile_id=profile.id, **fields, is_default=make_default or not existing, created_at=utcnow())
    if address.is_default and existing:
        session.execute(update(Address).where(Address.profile_id == profile.id).values(is_default=False))
    session.add(address)
    session.flush()
    add_timeline(session, profile.id, kind="address_added", summary=f"Address in {fields['city']} saved",
                 actor=actor, channel=channel, data={"address_id": address.id})
    audit.record(session, actor, "customer.address_added", "customer", str(profile.id), {"address_id": address.id})
    return address, True


def _make_default(session: Session, profile_id: int, address: Address) -> None:
    session.execute(update(Address).where(Address.profile_id == profile_id).values(is_default=False))
    address.is_default = True


def get_address(session: Session, profile: Profile, address_id: int) -> Address:
    address = session.get(Address, address_id)
    if address is None or address.profile_id != profile.id:
        raise NotFound(f"Customer {profile.id} has no address {address_id}", code="unknown_address")
    return address


def remove(session: Session, *, actor: Actor, profile: Profile, address_id: int) -> None:
    """Delete a saved address."""
    address = get_address(session, profile, address_id)
    session.delete(address)
    session.flush()
    if address.is_default:
        successor = session.scalars(select(Address).where(Address.profile_id == profile.id)
                                    .order_by(Address.id.desc()).limit(1)).first()
        if successor is not None:
            successor.is_default = True
    add_timeline(session, profile.id, kind="address_removed", summary="A saved address was removed", actor=actor,
                 data={"address_id": address_id})
    audit.record(session, actor, "customer.address_removed", "customer", str(profile.id), {"address_id": address_id})


def flag_failed_delivery(session: Session, *, actor: Actor, profile: Profile, address_id: int,
                         reason: str | None = None) -> Address:
    """Record that a delivery to this address failed, so the next order to it is inspected."""
    address = get_address(session, profile, address_id)
    address.failed_deliveries += 1
    address.last_failed_at = utcnow()
    add_timeline(session, profile.id, kind="delivery_failed", summary=f"Delivery to the address in {address.city} "
                 "failed" + (f": {reason}" if reason else ""), actor=actor, data={"address_id": address_id})
    audit.record(session, actor, "customer.delivery_failed", "customer", str(profile.id),
                 {"address_id": address_id}, note=reason)
    return address


def prefill_address(session: Session, profile: Profile) -> Address | None:
    """The address to offer first: the default, else the last used, skipping ones where deliveries failed."""
    addresses = list(session.scalars(select(Address).where(Address.profile_id == profile.id)))
    usable = [a for a in addresses if a.failed_deliveries == 0] or addresses
    if not usable:
        return None
    return max(usable, key=lambda a: (a.is_default, a.last_used_at or a.created_at, a.id))
