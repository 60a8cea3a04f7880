"""The sourcing cost model: parameters, distances and the breakdown of hand-computed decisions."""

import json
from math import pi

import pytest

from omniretail.locations.geo import EARTH_RADIUS_KM, haversine_km
from omniretail.sourcing.optimizer import POLICIES, CostModel, Location, Lot, Network, Order, source

ONE_DEGREE_KM = EARTH_RADIUS_KM * pi / 180  # along the equator or a meridian
PER_ITEM_KM = 0.000541 / 1.609344


def test_the_default_parameters_are_the_standard_set_with_miles_converted_to_kilometres():
    cost = CostModel()
    assert (cost.package, cost.item, cost.unfilled_per_unit) == (8.759, 0.423, 1000.0)
    assert cost.item_km == pytest.approx(PER_ITEM_KM, rel=1e-15)


def test_cost_parameters_read_from_a_dict_accept_item_mile_and_refuse_unknown_names():
    assert CostModel.from_dict({"item_mile": 1.609344}).item_km == pytest.approx(1.0, rel=1e-15)
    assert CostModel.from_dict({"package": 5}).package == 5.0
    assert CostModel.from_dict(CostModel().to_dict()) == CostModel()
    with pytest.raises(ValueError, match="unknown cost parameters: parcel"):
        CostModel.from_dict({"parcel": 1})
    with pytest.raises(ValueError, match="not both"):
        CostModel.from_dict({"item_mile": 1, "item_km": 1})
    with pytest.raises(ValueError, match="must not be negative"):
        CostModel(package=-1)


def test_haversine_gives_one_degree_of_arc_and_the_network_agrees_with_the_geo_module():
    assert haversine_km(0, 0, 0, 1) == pytest.approx(ONE_DEGREE_KM, abs=1e-9)
    assert haversine_km(0, 0, 90, 0) == pytest.approx(EARTH_RADIUS_KM * pi / 2, abs=1e-9)
    paris, london = (48.8566, 2.3522), (51.5074, -0.1278)
    assert haversine_km(*paris, *london) == pytest.approx(343.9, abs=0.5)
    network = Network([Location("L", *london)])
    assert network.distances_km(*paris, [0])[0] == pytest.approx(haversine_km(*paris, *london), abs=1e-9)


def test_one_parcel_costs_the_package_plus_items_plus_item_kilometres():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 5})])
    decision = source(Order("o1", {"X": 3}, lat=0.0, lon=0.0), network)
    assert decision.cost.packages == 8.759
    assert decision.cost.items == pytest.approx(3 * 0.423, abs=1e-12)
    assert decision.cost.distance == pytest.approx(3 * PER_ITEM_KM * ONE_DEGREE_KM, abs=1e-12)
    assert decision.total_cost == pytest.approx(8.759 + 1.269 + 3 * PER_ITEM_KM * ONE_DEGREE_KM, abs=1e-12)
    assert (decision.packages, decision.split, decision.unfilled) == (1, False, {})


def test_two_parcels_pay_two_packages_and_each_its_own_distance():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 1}), Location("B", 0.0, 2.0, stock={"Y": 1})])
    for policy in POLICIES:
        decision = source(Order("o1", {"X": 1, "Y": 1}, lat=0.0, lon=0.0), network, policy=policy)
        assert [s.location_id for s in decision.shipments] == ["A", "B"]
        assert decision.total_cost == pytest.approx(2 * 8.759 + 2 * 0.423 + PER_ITEM_KM * 3 * ONE_DEGREE_KM,
                                                    abs=1e-9)
        assert (decision.packages, decision.split) == (2, True)


def test_units_nobody_holds_cost_the_unfilled_penalty_and_are_reported_per_sku():
    network = Network([Location("A", 0.0, 0.0, stock={"X": 1})])
    decision = source(Order("o1", {"X": 3}, lat=0.0, lon=0.0), network)
    assert decision.unfilled == {"X": 2}
    assert decision.reasons == {"X": "insufficient_stock"}
    assert decision.cost.unfilled == 2000.0
    assert decision.total_cost == pytest.approx(8.759 + 0.423 + 2000.0, abs=1e-9)


def test_an_unfilled_penalty_below_a_parcel_leaves_the_far_unit_unfilled():
    network = Network([Location("A", 0.0, 0.0, stock={"X": 1}), Location("B", 0.0, 1.0, stock={"Y": 1})])
    # Send X alone: 9.182 + 9.2 = 18.382; send both: 18.401; send nothing: 18.4.
    cost = CostModel(unfilled_per_unit=9.2)
    for policy in ("default", "optimal"):
        decision = source(Order("o1", {"X": 1, "Y": 1}, lat=0.0, lon=0.0), network, cost, policy)
        assert decision.unfilled == {"Y": 1}, policy
        assert decision.reasons == {"Y": "not_sourced"}
        assert decision.total_cost == pytest.approx(8.759 + 0.423 + 9.2, abs=1e-9)
    nothing = source(Order("o2", {"X": 1, "Y": 1}, lat=0.0, lon=0.0), network, CostModel(unfilled_per_unit=4.0),
                     "default")
    assert (nothing.shipments, nothing.total_cost) == ((), 8.0)


def test_the_expiry_credit_is_per_unit_and_day_short_of_the_horizon():
    cost = CostModel(expiry_per_unit_day=0.001, expiry_horizon_days=100)
    assert cost.expiry_credit(10) == pytest.approx(0.09, abs=1e-12)
    assert cost.expiry_credit(0) == pytest.approx(0.1, abs=1e-12)
    assert cost.expiry_credit(-3) == pytest.approx(0.1, abs=1e-12)
    assert cost.expiry_credit(100) == 0.0
    assert cost.expiry_credit(400) == 0.0
    network = Network([Location("A", 0.0, 0.0, stock={"X": 3}, lots={"X": (Lot(2, 10), Lot(5, None))})])
    decision = source(Order("o1", {"X": 3}, lat=0.0, lon=0.0), network, cost)
    assert decision.cost.expiry_credit == pytest.approx(2 * 0.09, abs=1e-12)
    assert decision.total_cost == pytest.approx(8.759 + 3 * 0.423 - 0.18, abs=1e-9)
    assert decision.shipments[0].picks[0].lots == ((2, 10),)


def test_a_breakdown_serialises_with_its_total():
    network = Network([Location("A", 0.0, 0.0, stock={"X": 1})])
    data = json.loads(json.dumps(source(Order("o1", {"X": 1}, lat=0.0, lon=0.0), network).cost.to_dict()))
    assert data == {"packages": 8.759, "items": 0.423, "distance": 0.0, "transfer": 0.0, "delay": 0.0,
                    "unfilled": 0.0, "expiry_credit": 0.0, "total": 9.182}
