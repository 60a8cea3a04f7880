from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from omniretail.core.deps import DB
from omniretail.core.errors import Invalid
from omniretail.core.pagination import Cursor, Limit, cursor_int, decode_cursor, encode_cursor
from omniretail.core.schemas import PROBLEM_RESPONSES, problem
from omniretail.core.security import EVERYONE, Actor, Role, require
from omniretail.locations import service
from omniretail.locations.schemas import LocationIn, LocationList, LocationOut, LocationPatch, LocationType

router = APIRouter(prefix="/api/v1/locations", tags=["locations"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Actor, Depends(require(*EVERYONE))]
Editor = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS))]
NOT_FOUND = {404: problem("`unknown_location`")}


def _out(location, distance_km: float | None = None) -> LocationOut:  # type: ignore[no-untyped-def]
    out = LocationOut.model_validate(location)
    out.open_now = service.is_open_now(location)
    out.distance_km = None if distance_km is None else round(distance_km, 3)
    return out


@router.post("", response_model=LocationOut, status_code=201,
             responses={409: problem("`duplicate_location`")})
def register_location(body: LocationIn, db: DB, actor: Editor) -> LocationOut:
    """Register a store, warehouse or hub."""
    with db.write() as s:
        return _out(service.register_location(s, actor=actor, data=body))


@router.get("", response_model=LocationList)
def list_locations(
    db: DB, _: Reader, limit: Limit = 50, cursor: Cursor = None, type: LocationType | None = None,
    pickup: bool | None = None, ship_from_store: bool | None = None, hub: bool | None = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_km: Annotated[float, Query(gt=0, le=20_000)] = 50,
) -> LocationList:
    """List locations, or those near `lat`/`lon` (nearest first, with `distance_km`)."""
    with db.read() as s:
        if (lat is None) != (lon is None):
            raise Invalid("Give both lat and lon, or neither", field="lat" if lat is None else "lon",
                          code="incomplete_point")
        position = decode_cursor(cursor)
        if lat is not None and lon is not None:
            near = service.locations_near(s, lat=lat, lon=lon, radius_km=radius_km, type=type, pickup=pickup)
            offset = cursor_int(position, "offset")
            page = near[offset:offset + limit]
            more = len(near) > offset + limit
            return LocationList(items=[_out(loc, d) for loc, d in page],
                                next_cursor=encode_cursor({"offset": offset + limit}) if more else None)
        after = position.get("after", "")
        if not isinstance(after, str):
            raise Invalid("The cursor is not one this server issued", field="cursor", code="invalid_cursor")
        found = service.list_locations(s, limit=limit + 1, after=after, type=type, pickup=pickup,
                                       ship_from_store=ship_from_store, hub=hub)
        more = len(found) > limit
        return LocationList(items=[_out(loc) for loc in found[:limit]],
                            next_cursor=encode_cursor({"after": found[limit - 1].id}) if more else None)


@router.get("/{location_id}", response_model=LocationOut, responses=NOT_FOUND)
def get_location(location_id: str, db: DB, _: Reader) -> LocationOut:
    """Show one location with its hours and whether it is open now."""
    with db.read() as s:
        return _out(service.get_location(s, location_id))


@router.patch("/{location_id}", response_model=LocationOut, responses=NOT_FOUND)
def update_location(location_id: str, body: LocationPatch, db: DB, actor: Editor) -> LocationOut:
    """Change a location's details, flags, opening hours or capacity."""
    with db.write() as s:
        return _out(service.update_location(s, actor=actor, location_id=location_id, patch=body))
