"""Bid prices: what a unit of stock or of picking capacity is worth to the demand still expected. Pure module.

A fluid LP of the forecast demand against the network's stock and picking capacity (Acimovic & Graves 2015,
Jasin & Sinha 2015):

    min  sum ship[z,o] x[z,o,s] + penalty u[z,s]
    s.t. sum_o x[z,o,s] + u[z,s] = demand[z,s]          every forecast unit is sent or left (zone z, SKU s)
         sum_z x[z,o,s] <= stock[o,s]                   dual: the price of a unit of s at o
         sum_z,s x[z,o,s] <= capacity[o]                dual: the price of a unit of o's picking capacity

Forecast demand is grouped into zones, one per shipping location (each forecast point belongs to the nearest),
and `ship[z,o]` is the per-unit cost (item + distance, at the demand-weighted mean distance of the zone's points
of that SKU to o); each zone and SKU may draw on its `nearest` closest holders. Parcels and lanes are left out:
the LP prices units, the online policy still pays its parcels. HiGHS solves it; the duals of the stock and
capacity rows are the prices. The default policy adds them to each unit's cost when it chooses (never to the cost
it reports), so it spends first the stock that the rest of the day's demand needs least.

A forecast is uncertain, and the duals of one LP are all-or-nothing: a SKU forecast at one unit more than the
stock near its buyers prices every unit of it at nearly the penalty, as dear as a warehouse's scarce picking
capacity, so the policy would spend that capacity on units the stores hold. The prices are therefore the mean
duals over `scenarios` demand draws (the randomized LP of Talluri & van Ryzin 1999; each zone's units of a SKU
Poisson around the forecast): a resource short in every draw keeps its price, one short only in some costs in
proportion.

`BidPricer` re-solves between decisions, as a background job would: with the network's remaining stock and
capacity and the part of the forecast not yet arrived (the forecast scaled by the share of its orders still to
come), every `every` orders or sooner when the units taken since the last solve reach `unit_share` of the
forecast's units. The forecast is demand by SKU and place, never individual future orders.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omniretail.locations.geo import EARTH_RADIUS_KM
from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.milp import new_highs
from omniretail.sourcing.model import Network, Order

NEAREST = 12  # holders a zone's SKU may draw on in the LP
RESOLVES = 20  # default re-solves over the forecast's horizon
SCENARIOS = 8  # demand scenarios a solve averages its duals over
UNIT_SHARE = 0.05


@dataclass(frozen=True)
class Forecast:
    """Expected demand over a horizon of `orders` orders: (lat, lon, sku, units) per place and SKU."""

    demand: tuple[tuple[float, float, str, float], ...]
    orders: int
    source: str = "forecast"

    def __post_init__(self) -> None:
        if self.orders < 0 or any(q < 0 for _, _, _, q in self.demand):
            raise ValueError("a forecast needs a non-negative horizon and non-negative quantities")

    @property
    def units(self) -> float:
        return sum(q for _, _, _, q in self.demand)

    def to_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "source": self.source,
                "demand": [{"lat": lat, "lon": lon, "sku": sku, "qty": q} for lat, lon, sku, q in self.demand]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Forecast:
        demand = tuple((float(d["lat"]), float(d["lon"]), str(d["sku"]), float(d["qty"])) for d in data["demand"])
        return cls(demand, int(data["orders"]), str(data.get("source", "forecast")))


def aggregate(orders: Iterable[Order], *, source: str, digits: int = 1) -> Forecast:
    """Demand per SKU and destination (lat/lon rounded to `digits`) of delivery orders, as a forecast."""
    total: dict[tuple[float, float, str], int] = {}
    count = 0
    for order in orders:
        count += 1
        if order.lat is None or order.lon is None:
            continue
        lat, lon = round(order.lat, digits), round(order.lon, digits)
        for sku, q in order.lines.items():
            total[(lat, lon, sku)] = total.get((lat, lon, sku), 0) + q
    return Forecast(tuple((lat, lon, sku, float(q)) for (lat, lon, sku), q in sorted(total.items())), count, source)


@dataclass
class BidPrices:
    """Per location position: the price of a unit of each SKU's stock, and of a unit of picking capacity."""

    stock: list[dict[str, float]]
    capacity: list[float]
    status: str = "Optimal"
    seconds: float = 0.0
    columns: int = 0
    scenarios: int = 1  # demand scenarios the duals are averaged over

    def of(self, origin: int, sku: str) -> float:
        """Opportunity cost of taking one unit of `sku` at location position `origin`."""
        return self.capacity[origin] + self.stock[origin].get(sku, 0.0)

    @property
    def nonzero(self) -> bool:
        return any(self.capacity) or any(self.stock)

    def summary(self) -> dict[str, Any]:
        priced = [v for by_sku in self.stock for v in by_sku.values()]
        return {"stock_prices": len(priced), "capacity_prices": sum(1 for v in self.capacity if v),
                "max_stock_price": round(max(priced, default=0.0), 3),
                "max_capacity_price": round(max(self.capacity, default=0.0), 3)}


def _haversine(lat: np.ndarray, lon: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Distances (km) between every point (rows) and every location (columns), as `locations.geo`."""
    p1, l1 = np.radians(lat)[:, None], np.radians(lon)[:, None]
    p2, l2 = np.radians(lat2)[None, :], np.radians(lon2)[None, :]
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


class _Zones:
    """The forecast grouped by (zone, SKU), with the mean distance of each group to every location."""

    def __init__(self, network: Network, forecast: Forecast) -> None:
        locations = network.locations
        shipping = np.array([i for i, ships in enumerate(network.ships) if ships], dtype=np.int64)
        entries = [e for e in forecast.demand if e[3] > 0]
        self.skus: list[str] = []
        self.demand = np.zeros(0)
        self.distance = np.zeros((0, len(locations)))
        if not entries or not len(shipping):
            return
        lat = np.array([e[0] for e in entries])
        lon = np.array([e[1] for e in entries])
        qty = np.array([e[3] for e in entries])
        dist = _haversine(lat, lon, np.array([loc.lat for loc in locations]), np.array([loc.lon for loc in locations]))
        zone = shipping[np.argmin(dist[:, shipping], axis=1)]
        groups: dict[tuple[int, str], int] = {}
        group = np.empty(len(entries), dtype=np.int64)
        for k, (e, z) in enumerate(zip(entries, zone.tolist(), strict=True)):
            group[k] = groups.setdefault((z, e[2]), len(groups))
        self.skus = [sku for _, sku in groups]
        self.demand = np.bincount(group, weights=qty, minlength=len(groups))
        weighted = np.zeros((len(groups), len(locations)))
        np.add.at(weighted, group, dist * qty[:, None])
        self.distance = weighted / self.demand[:, None]


class FluidLP:
    """The LP above, built once for a forecast and a network's locations (columns for the stock held when it
    is built); `prices` re-solves it for the network's current stock and capacity and a share of the forecast,
    changing only row bounds, so HiGHS starts from the last basis."""

    def __init__(self, network: Network, forecast: Forecast, cost: CostModel, *, nearest: int = NEAREST) -> None:
        import highspy

        self.size = len(network.locations)
        zones = _Zones(network, forecast)
        self.groups = len(zones.skus)
        self.demand = zones.demand
        capacity = network.capacity
        open_ = [network.ships[o] and (capacity[o] is None or capacity[o] > 0)  # type: ignore[operator]
                 for o in range(self.size)]
        by_sku: dict[str, list[int]] = {}
        for g, sku in enumerate(zones.skus):
            by_sku.setdefault(sku, []).append(g)
        pairs, origins = [], []
        for sku, groups in by_sku.items():
            at = np.array(sorted(o for o in network.holders.get(sku, ()) if open_[o]), dtype=np.int64)
            if not len(at):
                continue
            rows = np.array(groups)
            k = min(nearest, len(at))
            if k < len(at):
                pick = np.argpartition(zones.distance[np.ix_(rows, at)], k - 1, axis=1)[:, :k]
            else:
                pick = np.tile(np.arange(len(at)), (len(rows), 1))
            pairs.append(np.repeat(rows, k))
            origins.append(at[pick].ravel())
        pair = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
        origin = np.concatenate(origins) if origins else np.zeros(0, dtype=np.int64)
        sku_of = [zones.skus[g] for g in pair.tolist()]
        self.stock_rows = {key: self.groups + i for i, key in
                           enumerate(dict.fromkeys(zip(origin.tolist(), sku_of, strict=True)))}
        stock_row = np.array([self.stock_rows[key] for key in zip(origin.tolist(), sku_of, strict=True)],
                             dtype=np.int64)
        finite = sorted({o for o in origin.tolist() if capacity[o] is not None})
        self.capacity_rows = {o: self.groups + len(self.stock_rows) + i for i, o in enumerate(finite)}
        cap_row = np.array([self.capacity_rows.get(o, -1) for o in origin.tolist()], dtype=np.int64)
        has_cap = cap_row >= 0
        x, g = len(pair), self.groups
        self.columns = x + g
        lp = highspy.HighsLp()
        lp.num_col_ = x + g
        lp.num_row_ = g + len(self.stock_rows) + len(finite)
        lp.col_cost_ = np.concatenate([cost.item + cost.item_km * zones.distance[pair, origin],
                                       np.full(g, cost.unfilled_per_unit)])  # shipping, then leaving a unit
        lp.col_lower_ = np.zeros(x + g)
        lp.col_upper_ = np.concatenate([np.full(x, highspy.kHighsInf), self.demand])
        lp.row_lower_ = np.concatenate([self.demand, np.full(lp.num_row_ - g, -highspy.kHighsInf)])
        lp.row_upper_ = np.concatenate([self.demand, np.zeros(lp.num_row_ - g)])
        per_col = np.concatenate([2 + has_cap.astype(np.int64), np.ones(g, dtype=np.int64)])
        starts = np.concatenate([[0], np.cumsum(per_col)])
        index = np.empty(int(starts[-1]), dtype=np.int64)
        first = starts[:x]
        index[first] = pair
        index[first + 1] = stock_row
        index[(first + 2)[has_cap]] = cap_row[has_cap]
        index[starts[x:-1]] = np.arange(g)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = starts.astype(np.int32)
        lp.a_matrix_.index_ = index.astype(np.int32)
        lp.a_matrix_.value_ = np.ones(len(index))
        self.highs = new_highs()
        self.highs.passModel(lp)
        self._unfilled_cols = np.arange(x, x + g, dtype=np.int32)

    def prices(self, network: Network, scale: float = 1.0, *, scenarios: int = 1,
               rng: np.random.Generator | None = None) -> BidPrices:
        """The stock and capacity duals for `scale` times the forecast against the network as it is now.

        With `scenarios` > 1 the LP is solved once per demand scenario, each (zone, SKU) drawn from a Poisson
        law around its expected units, and the duals are averaged (the randomized LP of Talluri & van Ryzin):
        a unit of a SKU whose forecast only just exceeds the stock is then worth the penalty times the chance
        that demand really exceeds it, not the whole penalty, while a resource short in every scenario keeps
        its full price."""
        began = time.perf_counter()
        prices = BidPrices([{} for _ in range(self.size)], [0.0] * self.size, columns=self.columns)
        if scale <= 0 or not self.groups:
            prices.status = "no demand left"
            return prices
        if scenarios < 1:
            raise ValueError("bid prices need at least one demand scenario")
        self._network_bounds(network)
        expected = self.demand * scale
        stock_rows = np.array(list(self.stock_rows.values()), dtype=np.int64)
        capacity_rows = np.array(list(self.capacity_rows.values()), dtype=np.int64)
        stock_dual, capacity_dual = np.zeros(len(stock_rows)), np.zeros(len(capacity_rows))
        rng = rng if rng is not None else np.random.default_rng(0)
        solved = 0
        for k in range(scenarios):
            demand = expected if scenarios == 1 else rng.poisson(expected).astype(float)
            status, dual = self._solve(demand)
            if k == 0 or status != "Optimal":
                prices.status = status
            if dual is None:
                continue
            stock_dual -= dual[stock_rows]
            capacity_dual -= dual[capacity_rows]
            solved += 1
        if solved:
            stock_dual /= solved
            capacity_dual /= solved
            for (o, sku), value in zip(self.stock_rows, stock_dual.tolist(), strict=True):
                if value > 1e-9:
                    prices.stock[o][sku] = value
            for o, value in zip(self.capacity_rows, capacity_dual.tolist(), strict=True):
                if value > 1e-9:
                    prices.capacity[o] = value
            if prices.status != "Optimal":
                prices.status = f"{prices.status} in {scenarios - solved} of {scenarios} scenarios"
        prices.scenarios = solved
        prices.seconds = time.perf_counter() - began
        return prices

    def _network_bounds(self, network: Network) -> None:
        """The stock and capacity rows' bounds: what the network holds and can still pick now."""
        highs, stock, capacity = self.highs, network.stock, network.capacity
        keys = list(self.stock_rows)
        highs.changeRowsBounds(len(keys), np.array(list(self.stock_rows.values()), dtype=np.int32),
                               np.full(len(keys), -np.inf),
                               np.array([float(stock[o].get(sku, 0)) for o, sku in keys]))
        if self.capacity_rows:
            highs.changeRowsBounds(len(self.capacity_rows), np.array(list(self.capacity_rows.values()), dtype=np.int32),
                                   np.full(len(self.capacity_rows), -np.inf),
                                   np.array([float(max(0, capacity[o] or 0)) for o in self.capacity_rows]))

    def _solve(self, demand: np.ndarray) -> tuple[str, np.ndarray | None]:
        """Solve for one demand vector (per group); the row duals when optimal."""
        highs, g = self.highs, self.groups
        rows = np.arange(g, dtype=np.int32)
        highs.changeRowsBounds(g, rows, demand, demand)
        highs.changeColsBounds(g, self._unfilled_cols, np.zeros(g), demand)
        highs.run()
        status = highs.modelStatusToString(highs.getModelStatus())
        if status != "Optimal":
            return status, None
        return status, np.asarray(highs.getSolution().row_dual)


def solve_prices(network: Network, forecast: Forecast, cost: CostModel, *, scale: float = 1.0,
                 nearest: int = NEAREST, scenarios: int = 1, seed: int = 0) -> BidPrices:
    """The bid prices of `scale` times the forecast against the network as it is now (one solve per scenario)."""
    return FluidLP(network, forecast, cost, nearest=nearest).prices(network, scale, scenarios=scenarios,
                                                                    rng=np.random.default_rng(seed))


@dataclass
class BidPricer:
    """Keeps bid prices current over an online sequence: `refresh` between decisions, `observe` after each."""

    forecast: Forecast
    cost: CostModel
    every: int | None = None  # orders between re-solves (default: the horizon / RESOLVES)
    unit_share: float = UNIT_SHARE
    nearest: int = NEAREST
    scenarios: int = SCENARIOS  # demand scenarios per solve (randomized LP); 1: the expected demand alone
    seed: int = 0  # of the scenarios' random stream, so a run can be repeated
    seen: int = 0
    solves: int = 0
    solve_seconds: list[float] = field(default_factory=list)
    prices: BidPrices | None = None
    _since_orders: int = 0
    _since_units: int = 0
    _lp: FluidLP | None = None
    _current: BidPrices | None = None

    def __post_init__(self) -> None:
        if self.every is None:
            self.every = max(1, math.ceil(self.forecast.orders / RESOLVES))
        if self.every < 1:
            raise ValueError("re-solve at least every order")
        if self.scenarios < 1:
            raise ValueError("bid prices need at least one demand scenario")
        self._rng = np.random.default_rng(self.seed)
        # worked out once: summing the forecast between decisions would also push the policy's data out of cache
        self._unit_limit = self.unit_share * self.forecast.units

    def due(self) -> bool:
        if self.solves == 0:
            return True
        return self._since_orders >= self.every or self._since_units >= self._unit_limit  # type: ignore[operator]

    def refresh(self, network: Network) -> BidPrices | None:
        """The prices for the next decision, re-solved first when due; None when nothing has a price."""
        if self.due():
            began = time.perf_counter()
            if self._lp is None:
                self._lp = FluidLP(network, self.forecast, self.cost, nearest=self.nearest)
            horizon = self.forecast.orders
            scale = max(0.0, 1.0 - self.seen / horizon) if horizon else 0.0
            self.prices = self._lp.prices(network, scale, scenarios=self.scenarios, rng=self._rng)
            self._current = self.prices if self.prices.nonzero else None
            self.solves += 1
            self.solve_seconds.append(time.perf_counter() - began)
            self._since_orders = self._since_units = 0
        return self._current

    def observe(self, units_sent: int) -> None:
        self.seen += 1
        self._since_orders += 1
        self._since_units += units_sent
