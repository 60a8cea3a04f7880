"""Bid prices: the fluid LP's stock and capacity duals, and the default policy choosing with them."""

import pytest

from omniretail.locations.geo import haversine_km
from omniretail.sourcing.bidprice import BidPricer, BidPrices, Forecast, aggregate, solve_prices
from omniretail.sourcing.instances import generate_instance, parse_instance
from omniretail.sourcing.optimizer import CostModel, Location, Network, Order, source
from omniretail.sourcing.policies import source_sequence

COST = CostModel()
NEAR_A = (40.0, -75.1)


def scarce_picking():
    """A can pick one more unit and is the only holder of Y; B, farther, has X to spare. The forecast expects one
    X and two Y near A: A's picking capacity is worth a Y, B's X nothing."""
    network = Network([Location("A", 40.0, -75.0, stock={"X": 1, "Y": 2}, capacity=1),
                       Location("B", 40.0, -80.0, stock={"X": 5})])
    orders = [Order("o1", {"X": 1}, lat=NEAR_A[0], lon=NEAR_A[1]),
              Order("o2", {"Y": 1}, lat=NEAR_A[0], lon=NEAR_A[1]),
              Order("o3", {"Y": 1}, lat=NEAR_A[0], lon=NEAR_A[1])]
    forecast = Forecast(((*NEAR_A, "X", 1.0), (*NEAR_A, "Y", 2.0)), orders=3, source="hand-made")
    return network, orders, forecast


def online(network, orders, policy, pricer=None):
    state = network.copy()
    decisions = []
    for order in orders:
        prices = None if pricer is None else pricer.refresh(state)
        decision = source(order, state, COST, policy, prices=prices)
        state.consume(decision.picks)
        if pricer is not None:
            pricer.observe(sum(p.quantity for p in decision.picks))
        decisions.append(decision)
    return decisions


def test_the_dual_of_binding_capacity_is_what_a_unit_it_picks_saves_and_slack_stock_costs_nothing():
    network, _, forecast = scarce_picking()
    prices = solve_prices(network, forecast, COST)
    a, b = network.index["A"], network.index["B"]
    y_from_a = COST.item + COST.item_km * haversine_km(*NEAR_A, 40.0, -75.0)
    assert prices.status == "Optimal"
    assert prices.capacity[a] == pytest.approx(COST.unfilled_per_unit - y_from_a, abs=1e-6)
    assert prices.capacity[b] == 0.0 and prices.stock[b] == {}  # B has X to spare and no picking limit
    assert prices.of(a, "X") == pytest.approx(prices.capacity[a]) and prices.of(b, "X") == 0.0


def test_with_prices_the_default_saves_the_scarce_capacity_for_the_later_order_greedy_leaves_unfilled():
    network, orders, forecast = scarce_picking()
    greedy = online(network, orders, "greedy")
    plain = online(network, orders, "default")
    priced = online(network, orders, "default", BidPricer(forecast, COST))
    assert [d.shipments[0].location_id if d.shipments else None for d in greedy] == ["A", None, None]
    assert [d.unfilled_units for d in greedy] == [0, 1, 1] and [d.unfilled_units for d in plain] == [0, 1, 1]
    assert [d.shipments[0].location_id if d.shipments else None for d in priced] == ["B", "A", None]
    assert [d.unfilled_units for d in priced] == [0, 0, 1]
    assert sum(d.total_cost for d in priced) < sum(d.total_cost for d in greedy) - 900
    # the reported cost is the true cost of the shipment: the price only chose B
    first = priced[0]
    far = COST.package + COST.item + COST.item_km * haversine_km(*NEAR_A, 40.0, -80.0)
    assert first.total_cost == pytest.approx(far, abs=1e-9)
    assert first.to_dict()["cost"]["total"] == pytest.approx(far, abs=1e-6)
    assert any(note.startswith("bid prices used to choose") for note in first.notes)
    assert not any(note.startswith("bid prices") for note in greedy[0].notes + plain[0].notes)
    assert first.lower_bound is not None and first.lower_bound <= first.total_cost


def test_prices_never_leave_a_unit_unfilled_that_the_network_can_send():
    network, orders, forecast = scarce_picking()
    a = network.index["A"]
    prices = BidPrices([{"Y": 5000.0}, {}], [5000.0, 0.0])  # far above the penalty
    decision = source(orders[1], network, COST, prices=prices)
    assert decision.unfilled == {} and decision.shipments[0].location_id == "A"
    assert prices.of(a, "Y") == 10000.0


def test_prices_are_zero_when_stock_is_loose_and_the_default_then_decides_exactly_as_without():
    document = generate_instance(locations=5, orders=150, skus=25, seed=4, capacity="loose")
    instance = parse_instance(document)
    assert instance.forecast is not None and instance.forecast.units > 0
    prices = solve_prices(instance.network, instance.forecast, instance.cost)
    assert prices.status == "Optimal" and not prices.nonzero
    pricer = BidPricer(instance.forecast, instance.cost, every=10, unit_share=1.0)
    with_prices = online(instance.network, instance.orders, "default", pricer)
    without = source_sequence(instance.orders, instance.network, instance.cost, "default")
    assert pricer.solves == 15
    assert [d.to_dict() for d in with_prices] == [d.to_dict() for d in without]


def test_all_zero_prices_change_nothing_and_the_other_policies_take_none():
    network, orders, _ = scarce_picking()
    zero = BidPrices([{}, {}], [0.0, 0.0])
    assert source(orders[0], network, COST, prices=zero).to_dict() == source(orders[0], network, COST).to_dict()
    with pytest.raises(ValueError, match="bid prices guide the default policy only"):
        source(orders[0], network, COST, "greedy", prices=zero)


def test_the_pricer_resolves_every_n_orders_or_when_enough_units_went_and_scales_the_forecast_left():
    network, orders, forecast = scarce_picking()
    pricer = BidPricer(forecast, COST, every=2, unit_share=10.0)
    state = network.copy()
    solved = []
    for _ in orders:
        pricer.refresh(state)
        solved.append(pricer.solves)
        pricer.observe(1)
    assert solved == [1, 1, 2]
    by_units = BidPricer(forecast, COST, every=100, unit_share=0.5)  # 1.5 of the forecast's 3 units
    for _ in range(3):
        by_units.refresh(state)
        by_units.observe(1)
    assert by_units.solves == 2
    spent = BidPricer(forecast, COST, every=1)
    spent.seen = 3  # the whole horizon has arrived: nothing left to price for
    assert spent.refresh(state) is None and spent.prices is not None and spent.prices.status == "no demand left"


def test_a_forecast_aggregates_deliveries_per_sku_and_place_and_round_trips():
    orders = [Order("a", {"X": 2}, lat=40.01, lon=-75.04), Order("b", {"X": 1, "Y": 1}, lat=40.02, lon=-74.96),
              Order("c", {"X": 5}, pickup_location_id="S")]
    forecast = aggregate(orders, source="the batch itself")
    assert forecast.demand == ((40.0, -75.0, "X", 3.0), (40.0, -75.0, "Y", 1.0)) and forecast.orders == 3
    assert Forecast.from_dict(forecast.to_dict()) == forecast
    with pytest.raises(ValueError, match="non-negative"):
        Forecast(((0.0, 0.0, "X", -1.0),), 1)


def test_over_demand_scenarios_stock_just_short_is_priced_by_its_chance_and_capacity_short_always_in_full():
    """The warehouse W can pick 20 units and alone holds Y, of which 50 are expected; the store S holds 10 X
    against 10.5 expected. One LP prices S's X like W's capacity (nearly the penalty); averaged over Poisson
    draws of the demand, S's X is worth the chance that more than 10 X are ordered, W's capacity stays dear."""
    network = Network([Location("W", 40.0, -75.0, stock={"X": 50, "Y": 100}, capacity=20),
                       Location("S", 41.0, -75.0, stock={"X": 10})])
    forecast = Forecast(((41.0, -75.0, "X", 10.5), (40.0, -75.0, "Y", 50.0)), orders=60, source="hand-made")
    w, s = network.index["W"], network.index["S"]
    one = solve_prices(network, forecast, COST)
    assert one.scenarios == 1 and one.stock[s]["X"] > 0.99 * COST.unfilled_per_unit
    drawn = solve_prices(network, forecast, COST, scenarios=64, seed=3)
    assert drawn.status == "Optimal" and drawn.scenarios == 64
    assert 0.2 * COST.unfilled_per_unit < drawn.stock[s]["X"] < 0.7 * COST.unfilled_per_unit
    assert drawn.capacity[w] > 0.99 * COST.unfilled_per_unit
    again = solve_prices(network, forecast, COST, scenarios=64, seed=3)
    assert (again.stock, again.capacity) == (drawn.stock, drawn.capacity)  # the seed repeats a run
    with pytest.raises(ValueError, match="at least one demand scenario"):
        solve_prices(network, forecast, COST, scenarios=0)
    with pytest.raises(ValueError, match="at least one demand scenario"):
        BidPricer(forecast, COST, scenarios=0)
