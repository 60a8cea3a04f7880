"""The policies against each other and against brute force, on random small networks."""

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from omniretail.locations.geo import haversine_km
from omniretail.sourcing.bidprice import BidPrices
from omniretail.sourcing.decision import assignment_from_picks, breakdown
from omniretail.sourcing.optimizer import CostModel, Lane, Location, Lot, Network, Order, source
from omniretail.sourcing.problem import build_problem

SKUS = ["A", "B", "C", "D"]
COST = CostModel()


@st.composite
def tiny(draw):
    """Up to three locations, two SKUs, three units a line: small enough to enumerate every plan."""
    n = draw(st.integers(1, 3))
    skus = SKUS[:draw(st.integers(1, 2))]
    locations = [Location(f"L{j}", draw(st.floats(30, 45)), draw(st.floats(-120, -75)),
                          stock={s: draw(st.integers(0, 3)) for s in skus},
                          capacity=draw(st.one_of(st.none(), st.integers(0, 4))))
                 for j in range(n)]
    lines = {s: draw(st.integers(1, 3)) for s in skus}
    order = Order("o", lines, lat=draw(st.floats(30, 45)), lon=draw(st.floats(-120, -75)))
    return locations, order


@st.composite
def small(draw):
    """Up to six locations and four SKUs, with lots, a ship-from-store flag, lanes, pickups, and an unfilled
    penalty sometimes below the price of a parcel."""
    n = draw(st.integers(1, 6))
    skus = SKUS[:draw(st.integers(1, 4))]
    locations = []
    for j in range(n):
        stock = {s: draw(st.integers(0, 4)) for s in skus if draw(st.booleans())}
        lots = {s: (Lot(draw(st.integers(1, 3)), draw(st.integers(0, 400))),) for s in stock if draw(st.booleans())}
        locations.append(Location(f"L{j}", draw(st.floats(30, 45)), draw(st.floats(-120, -75)), stock=stock,
                                  capacity=draw(st.one_of(st.none(), st.integers(0, 6))), lots=lots,
                                  ships=draw(st.booleans()) or j == 0))
    lanes = []
    if n > 1 and draw(st.booleans()):
        a, b = draw(st.permutations(range(n)))[:2]
        lanes.append(Lane(f"L{a}", f"L{b}", cost_per_unit=draw(st.floats(0, 2)), delay_days=draw(st.integers(0, 3))))
    lines = {s: draw(st.integers(1, 3)) for s in draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=4))}
    if draw(st.integers(0, 4)) == 0:
        order = Order("o", lines, pickup_location_id=f"L{draw(st.integers(0, n - 1))}")
    else:
        order = Order("o", lines, lat=draw(st.floats(30, 45)), lon=draw(st.floats(-120, -75)))
    cost = CostModel(unfilled_per_unit=draw(st.sampled_from([1000.0, 30.0, 9.0, 2.0])))
    return Network(locations, lanes), order, cost


def brute_force(locations, order):
    """The cheapest plan by enumeration, with the cost model written out again."""
    distance = [haversine_km(order.lat, order.lon, loc.lat, loc.lon) for loc in locations]
    options = []
    for sku, wanted in order.lines.items():
        ranges = [range(min(wanted, loc.stock.get(sku, 0)) + 1) for loc in locations]
        options.append([split for split in itertools.product(*ranges) if sum(split) <= wanted])
    ordered = sum(order.lines.values())
    best = math.inf
    for plan in itertools.product(*options):
        units = [sum(split[j] for split in plan) for j in range(len(locations))]
        if any(loc.capacity is not None and units[j] > loc.capacity for j, loc in enumerate(locations)):
            continue
        total = (sum(1 for u in units if u) * COST.package + sum(units) * COST.item
                 + sum(u * d for u, d in zip(units, distance, strict=True)) * COST.item_km
                 + (ordered - sum(units)) * COST.unfilled_per_unit)
        best = min(best, total)
    return best


@settings(max_examples=120, deadline=None)
@given(tiny())
def test_the_optimal_policy_finds_the_cheapest_plan_that_enumeration_finds(case):
    locations, order = case
    expected = brute_force(locations, order)
    network = Network(locations)
    assert abs(source(order, network, COST, "optimal").total_cost - expected) < 1e-7
    default = source(order, network, COST, "default")
    assert default.total_cost >= expected - 1e-7
    if default.lower_bound is not None:
        assert default.lower_bound <= expected + 1e-7


@settings(max_examples=150, deadline=None)
@given(small())
def test_no_policy_beats_optimal_and_the_default_lower_bound_never_exceeds_it(case):
    network, order, cost = case
    optimal = source(order, network, cost, "optimal")
    default = source(order, network, cost, "default")
    greedy = source(order, network, cost, "greedy")
    assert optimal.total_cost <= default.total_cost + 1e-7
    assert optimal.total_cost <= greedy.total_cost + 1e-7
    if default.lower_bound is not None:
        assert default.lower_bound <= optimal.total_cost + 1e-7
        if "proven optimal: no other plan can cost less" in default.notes:
            assert abs(default.total_cost - optimal.total_cost) < 1e-7
    for decision in (optimal, default, greedy):
        state = network.copy()
        state.consume(decision.picks)  # raises when a plan takes more than stock or capacity allow
        sent = {sku: 0 for sku in order.lines}
        for pick in decision.picks:
            sent[pick.sku] += pick.quantity
        assert {s: q - sent[s] for s, q in order.lines.items() if q > sent[s]} == decision.unfilled
        assert set(decision.reasons) == set(decision.unfilled)


@settings(max_examples=120, deadline=None)
@given(small(), st.data())
def test_with_any_bid_prices_the_default_states_its_true_cost_and_a_bound_no_plan_beats(case, data):
    network, order, cost = case
    n = len(network.locations)
    prices = BidPrices([{s: data.draw(st.sampled_from([0.0, 0.5, 40.0, 990.0])) for s in SKUS} for _ in range(n)],
                       [data.draw(st.sampled_from([0.0, 3.0, 700.0])) for _ in range(n)])
    priced = source(order, network, cost, "default", prices=prices)
    optimal = source(order, network, cost, "optimal")
    network.copy().consume(priced.picks)  # fits stock and capacity
    problem = build_problem(order, network, cost)
    true_cost = breakdown(problem, assignment_from_picks(problem, priced.picks)).total
    assert abs(priced.total_cost - true_cost) < 1e-9  # the prices chose, they are not in the cost
    assert priced.total_cost >= optimal.total_cost - 1e-7
    assert priced.lower_bound is not None and priced.lower_bound <= optimal.total_cost + 1e-7
    if cost.unfilled_per_unit == 1000.0 and priced.unfilled_units > optimal.unfilled_units:
        # only the plan's choice of locations can leave more unfilled, never the prices weighed against the penalty
        assert any(code == "capacity" for code in priced.reasons.values())
