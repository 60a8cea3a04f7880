"""Use cases of locations: register, change, find (also near a point)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.errors import Conflict, Invalid, NotFound, register_unique_constraint
from omniretail.core.outbox import Event, emit
from omniretail.core.security import Actor
from omniretail.core.text import slug
from omniretail.locations import geo, hours
from omniretail.locations.models import Location
from omniretail.locations.schemas import LocationIn, LocationOut, LocationPatch

register_unique_constraint("pk_locations", "locations.id", code="duplicate_location",
                           detail="A location with this id already exists")

_COUNTRIES = frozenset(code for code in Locale("en").territories if len(code) == 2 and code.isalpha())
_ZONES = frozenset(available_timezones())


def checked_timezone(tz: str) -> str:
    if tz not in _ZONES:
        raise Invalid(f"{tz!r} is not an IANA time zone like Europe/Berlin", field="timezone", code="invalid_timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{tz!r} is not an IANA time zone", field="timezone", code="invalid_timezone") from None
    return tz


def checked_country(country: str | None) -> str | None:
    if country is None:
        return None
    code = country.upper()
    if code not in _COUNTRIES:
        raise Invalid(f"{country!r} is not an ISO 3166 country code", field="country", code="invalid_country")
    return code


def checked_hours(value: Any) -> hours.Hours:
    try:
        return hours.parse_hours(value)
    except hours.HoursError as exc:
        raise Invalid(f"Opening hours: {exc}", field="opening_hours", code="invalid_opening_hours") from None


def _free_id(session: Session, base: str) -> str:
    candidate, n = base, 1
    while session.get(Location, candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _snapshot(location: Location) -> dict[str, Any]:
    return LocationOut.model_validate(location).model_dump(
        mode="json", exclude={"created_at", "updated_at", "distance_km", "open_now"})


def register_location(session: Session, *, actor: Actor, data: LocationIn) -> Location:
    """Register a store, warehouse or hub."""
    if data.id is not None and session.get(Location, data.id) is not None:
        raise Conflict(f"A location {data.id!r} already exists", code="duplicate_location")
    fields = data.model_dump(exclude={"id", "hub", "opening_hours", "timezone", "country"})
    now = utcnow()
    location = Location(
        id=data.id or _free_id(session, slug(data.name, fallback="location")),
        hub=data.hub if data.hub is not None else data.type == "hub",
        timezone=checked_timezone(data.timezone), country=checked_country(data.country),
        opening_hours=checked_hours(data.opening_hours), active=True, created_at=now, updated_at=now, **fields,
    )
    session.add(location)
    session.flush()
    snapshot = _snapshot(location)
    audit.record(session, actor, "location.registered", "location", location.id, snapshot)
    emit(session, Event("location.created", "location", location.id, snapshot))
    return location


def update_location(session: Session, *, actor: Actor, location_id: str, patch: LocationPatch) -> Location:
    """Change a location's details, flags, hours or capacity."""
    location = get_location(session, location_id)
    before = _snapshot(location)
    given = patch.model_dump(exclude_unset=True)
    for name, value in given.items():
        if value is None and name not in ("brand", "address_line1", "city", "postcode", "country", "phone"):
            raise Invalid(f"{name} cannot be null", field=name, code="null_not_allowed")
        if name == "timezone":
            value = checked_timezone(value)
        elif name == "country":
            value = checked_country(value)
        elif name == "opening_hours":
            value = checked_hours(value)
        setattr(location, name, value)
    after = _snapshot(location)
    changes = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if changes:
        location.updated_at = utcnow()
        audit.record(session, actor, "location.updated", "location", location.id, changes)
        emit(session, Event("location.updated", "location", location.id, {"id": location.id, "changes": changes}))
    return location


def get_location(session: Session, location_id: str, *, field: str | None = None) -> Location:
    """Return a location or raise `unknown_location` (404, or 422 naming `field`)."""
    location = session.get(Location, location_id)
    if location is None:
        if field is not None:
            raise Invalid(f"No location {location_id!r}", field=field, code="unknown_location")
        raise NotFound(f"No location {location_id!r}", code="unknown_location")
    return location


def list_locations(session: Session, *, limit: int, after: str = "", type: str | None = None,
                   pickup: bool | None = None, ship_from_store: bool | None = None, hub: bool | None = None,
                   active: bool | None = True) -> list[Location]:
    """List locations by id, filtered."""
    query = select(Location).where(Location.id > after)
    for column, value in ((Location.type, type), (Location.pickup, pickup),
                          (Location.ship_from_store, ship_from_store), (Location.hub, hub),
                          (Location.active, active)):
        if value is not None:
            query = query.where(column == value)
    return list(session.scalars(query.order_by(Location.id).limit(limit)))


def locations_near(session: Session, *, lat: float, lon: float, radius_km: float,
                   type: str | None = None, pickup: bool | None = None) -> list[tuple[Location, float]]:
    """Active locations within `radius_km` of a point, nearest first, with their distance."""
    min_lat, max_lat, lon_ranges = geo.bounding_box(lat, lon, radius_km)
    query = select(Location).where(Location.active, Location.lat.between(min_lat, max_lat),
                                   or_(*(Location.lon.between(low, high) for low, high in lon_ranges)))
    if type is not None:
        query = query.where(Location.type == type)
    if pickup is not None:
        query = query.where(Location.pickup == pickup)
    found = [(loc, geo.haversine_km(lat, lon, loc.lat, loc.lon)) for loc in session.scalars(query)]
    return sorted(((loc, d) for loc, d in found if d <= radius_km), key=lambda pair: (pair[1], pair[0].id))


def is_open_now(location: Location) -> bool:
    return hours.is_open(location.opening_hours, location.timezone, utcnow())
