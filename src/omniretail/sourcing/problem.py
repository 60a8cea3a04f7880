"""One order against the network, as every policy sees it: candidate shipping points, routes, unit costs. Pure.

A route takes units at an origin and hands them to the customer at a point: directly (origin = point), or
over a transfer lane into the point. For a delivery each point that sends units is one parcel; for a pickup the
only point is the pickup location and no parcel is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.model import Network, Order

REASONS = {
    "unknown_sku": "no location in the network lists this SKU",
    "out_of_stock": "no location has units available",
    "insufficient_stock": "the network holds fewer units than ordered",
    "no_capacity": "the locations holding it cannot pick more units today",
    "no_route": "no location holding it can ship to the customer or transfer to the pickup location",
    "unknown_pickup_location": "the pickup location is not in the network",
    "capacity": "the locations able to send it used their capacity for the order's other lines",
    "not_sourced": "the policy left it unfilled",
}


@dataclass(slots=True)
class Route:
    origin: int
    point: int
    unit_cost: float  # item + distance from the point + lane cost and delay, per unit
    transfer: float  # lane price per unit (0 when direct)
    delay_days: int


@dataclass
class Problem:
    order: Order
    cost: CostModel
    network: Network
    pickup: bool
    package: float
    demand: dict[str, int]
    points: list[int] = field(default_factory=list)
    distance: dict[int, float] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    point_routes: dict[int, list[int]] = field(default_factory=dict)
    route_of: dict[tuple[int, int], int] = field(default_factory=dict)  # (origin, point) -> route index
    reach: dict[int, dict[str, int]] = field(default_factory=dict)  # point -> sku -> units its origins hold
    avail: dict[tuple[int, str], int] = field(default_factory=dict)
    capacity: dict[int, int | None] = field(default_factory=dict)
    credits: dict[tuple[int, str], list[tuple[int, float]]] = field(default_factory=dict)
    fillable: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def target_units(self) -> int:
        return sum(self.fillable.values())

    def max_credit(self, origin: int, sku: str) -> float:
        segments = self.credits.get((origin, sku))
        return segments[0][1] if segments else 0.0

    def reachable(self, point: int, sku: str) -> int:
        """Units of `sku` the point can send (stock of its routes' origins, before capacity)."""
        return self.reach[point].get(sku, 0)


def build_problem(order: Order, network: Network, cost: CostModel) -> Problem:
    skus = list(order.lines)
    problem = Problem(order, cost, network, pickup=order.pickup_location_id is not None,
                      package=0.0 if order.pickup_location_id is not None else cost.package, demand=dict(order.lines))
    capacity = network.capacity
    holders = {sku: [o for o in network.holders.get(sku, ()) if capacity[o] is None or capacity[o] > 0]  # type: ignore[operator]
               for sku in skus}
    holding = set().union(*holders.values()) if holders else set()
    if problem.pickup:
        point = network.index.get(order.pickup_location_id)  # type: ignore[arg-type]
        if point is None:
            problem.fillable = dict.fromkeys(skus, 0)
            problem.reasons = dict.fromkeys(skus, "unknown_pickup_location")
            return problem
        problem.distance[point] = 0.0
        points = [point]
    else:
        ships = network.ships
        candidates = {i for i in holding if ships[i]}
        if network.lanes:
            for p, lanes in enumerate(network.incoming):
                if ships[p] and any(origin in holding for origin, _, _ in lanes):
                    candidates.add(p)
        points = sorted(candidates)
        problem.distance = network.distances_km(order.lat, order.lon, points)  # type: ignore[arg-type]
    _add_routes(problem, points, holding)
    origins = problem.capacity
    stock, lots = network.stock, network.lots
    for sku in skus:
        for o in holders[sku]:
            if o in origins:
                problem.avail[(o, sku)] = stock[o][sku]
                if sku in lots[o]:
                    problem.credits[(o, sku)] = [(n, cost.expiry_credit(days)) for n, days in lots[o][sku]]
    _reach(problem)
    _fillable_and_reasons(problem, skus)
    return problem


def _add_routes(problem: Problem, points: list[int], holding: set[int]) -> None:
    network, cost = problem.network, problem.cost
    routes = problem.routes
    for p in points:
        base = cost.item + cost.item_km * problem.distance[p]
        own: list[int] = []
        if p in holding:
            own.append(len(routes))
            routes.append(Route(p, p, base, 0.0, 0))
            problem.capacity[p] = network.capacity[p]
        for origin, price, delay in network.incoming[p]:
            if origin in holding:
                transfer = cost.transfer_per_unit if price is None else price
                own.append(len(routes))
                routes.append(Route(origin, p, base + transfer + cost.delay_per_unit_day * delay, transfer, delay))
                problem.capacity[origin] = network.capacity[origin]
        if own:
            problem.points.append(p)
            problem.point_routes[p] = own
            for r in own:
                problem.route_of.setdefault((routes[r].origin, p), r)


def _reach(problem: Problem) -> None:
    """Per point, the units of each SKU its routes' origins hold."""
    reach: dict[int, dict[str, int]] = {p: {} for p in problem.points}
    direct = all(len(rs) == 1 and problem.routes[rs[0]].origin == p for p, rs in problem.point_routes.items())
    if direct:
        for (o, sku), units in problem.avail.items():
            if o in reach:
                reach[o][sku] = units
    else:
        for p in problem.points:
            for r in problem.point_routes[p]:
                origin = problem.routes[r].origin
                for sku in problem.demand:
                    units = problem.avail.get((origin, sku), 0)
                    if units:
                        reach[p][sku] = reach[p].get(sku, 0) + units
    problem.reach = reach


def _fillable_and_reasons(problem: Problem, skus: list[str]) -> None:
    network = problem.network
    reachable_units: dict[str, int] = {}
    for (_, sku), units in problem.avail.items():
        reachable_units[sku] = reachable_units.get(sku, 0) + units
    for sku in skus:
        wanted = problem.demand[sku]
        reachable = reachable_units.get(sku, 0)
        problem.fillable[sku] = min(wanted, reachable)
        if reachable >= wanted:
            continue
        if sku not in network.known_skus:
            problem.reasons[sku] = "unknown_sku"
            continue
        anywhere = network.total_available(sku)
        if anywhere == 0:
            problem.reasons[sku] = "out_of_stock"
        elif anywhere < wanted and reachable == anywhere:
            problem.reasons[sku] = "insufficient_stock"
        elif any(network.capacity[i] is not None and network.capacity[i] <= 0 for i in network.holders.get(sku, ())):
            problem.reasons[sku] = "no_capacity"
        else:
            problem.reasons[sku] = "no_route"
