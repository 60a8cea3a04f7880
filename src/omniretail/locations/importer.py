"""Locations as CSV: the columns, parsing a row, loading, exporting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniretail.core.csvio import CREATED, UNCHANGED, UPDATED, RowError, optional, parse_bool, reason_of
from omniretail.core.errors import DomainError
from omniretail.core.security import Actor
from omniretail.locations import hours, service
from omniretail.locations.models import Location
from omniretail.locations.schemas import LocationIn, LocationPatch

COLUMNS = ("id", "name", "type", "brand", "lat", "lon", "timezone", "address_line1", "city", "postcode",
           "country", "phone", "pickup", "ship_from_store", "hub", "daily_capacity", "safety_stock", "opening_hours")
_OPTIONAL_TEXT = ("brand", "address_line1", "city", "postcode", "country", "phone")


@dataclass
class LocationImport:
    """Import spec for locations: rows with a known id update it, others register a location."""

    actor: Actor
    kind: str = "locations"
    required: frozenset[str] = frozenset({"name", "type", "lat", "lon"})
    columns: tuple[str, ...] = COLUMNS

    def parse(self, row: dict[str, str]) -> LocationIn:
        data: dict[str, Any] = {"name": row["name"], "type": row["type"], "lat": row["lat"], "lon": row["lon"],
                                "id": optional(row.get("id", "")),
                                "timezone": row.get("timezone") or "UTC",
                                "opening_hours": optional(row.get("opening_hours", "")),
                                "daily_capacity": row.get("daily_capacity") or 0,
                                "safety_stock": row.get("safety_stock") or 0}
        for name in _OPTIONAL_TEXT:
            data[name] = optional(row.get(name, ""))
        for flag in ("pickup", "ship_from_store"):
            data[flag] = parse_bool(row.get(flag, ""), column=flag)
        if row.get("hub"):
            data["hub"] = parse_bool(row["hub"], column="hub")
        return LocationIn.model_validate(data)

    def tables(self) -> list[str]:
        return ["locations"]

    def load(self, session: Session, items: list[tuple[int, LocationIn]]) -> dict[int, str | RowError]:
        outcomes: dict[int, str | RowError] = {}
        for line, data in items:
            try:
                with session.begin_nested():
                    outcomes[line] = self._load_one(session, data)
            except (DomainError, ValidationError) as exc:
                outcomes[line] = RowError(line, reason_of(exc))
        return outcomes

    def _load_one(self, session: Session, data: LocationIn) -> str:
        if data.id is None or session.get(Location, data.id) is None:
            service.register_location(session, actor=self.actor, data=data)
            return CREATED
        location = session.get(Location, data.id)
        assert location is not None
        if location.type != data.type:
            raise DomainError(f"location {data.id} is a {location.type}; its type cannot change",
                              code="type_change_refused")
        fields = data.model_dump(exclude={"id", "type"})
        if fields["hub"] is None:
            fields["hub"] = location.hub
        if fields["opening_hours"] is None:
            fields["opening_hours"] = {}
        before = location.updated_at
        service.update_location(session, actor=self.actor, location_id=data.id,
                                patch=LocationPatch.model_validate(fields))
        return UPDATED if location.updated_at != before else UNCHANGED


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """Every location as a CSV row, in the format `LocationImport` reads back."""
    for loc in session.scalars(select(Location).order_by(Location.id)):
        yield {
            "id": loc.id, "name": loc.name, "type": loc.type, "brand": loc.brand or "", "lat": loc.lat,
            "lon": loc.lon, "timezone": loc.timezone, "address_line1": loc.address_line1 or "",
            "city": loc.city or "", "postcode": loc.postcode or "", "country": loc.country or "",
            "phone": loc.phone or "", "pickup": str(loc.pickup).lower(),
            "ship_from_store": str(loc.ship_from_store).lower(), "hub": str(loc.hub).lower(),
            "daily_capacity": loc.daily_capacity, "safety_stock": loc.safety_stock,
            "opening_hours": hours.format_hours(loc.opening_hours),
        }
