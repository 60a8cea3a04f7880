"""Great-circle distances. Pure module."""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0088
KM_PER_MILE = 1.609344


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = radians(lat1), radians(lat2)
    dp, dl = p2 - p1, radians(lon2 - lon1)
    a = sin(dp / 2) ** 2 + cos(p1) * cos(p2) * sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, list[tuple[float, float]]]:
    """(min_lat, max_lat, longitude ranges) enclosing a circle, for an index-friendly prefilter.

    A circle across the 180° meridian gets two longitude ranges; one reaching a pole gets all.
    """
    dlat = radius_km / 110.0
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    if min_lat <= -90.0 or max_lat >= 90.0:
        return min_lat, max_lat, [(-180.0, 180.0)]
    widest = max(abs(min_lat), abs(max_lat))
    dlon = radius_km / max(1e-6, 110.0 * cos(radians(widest)))
    if dlon >= 180.0:
        return min_lat, max_lat, [(-180.0, 180.0)]
    low, high = lon - dlon, lon + dlon
    if low < -180.0:
        return min_lat, max_lat, [(low + 360.0, 180.0), (-180.0, high)]
    if high > 180.0:
        return min_lat, max_lat, [(low, 180.0), (-180.0, high - 360.0)]
    return min_lat, max_lat, [(low, high)]
