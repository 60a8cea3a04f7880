"""The sourcing policies: what they choose, what they refuse, and how they explain it."""

import json

import pytest

from omniretail.sourcing.optimizer import (
    POLICIES,
    CostModel,
    Lane,
    Location,
    Lot,
    Network,
    Order,
    source,
    source_batch,
    source_sequence,
)


def delivery(lines, lat=0.0, lon=0.0, id_="o1"):
    return Order(id_, dict(lines), lat=lat, lon=lon)


def test_the_nearest_location_holding_everything_ships_the_whole_order_alone():
    network = Network([Location("far", 0.0, 5.0, stock={"X": 9, "Y": 9}),
                       Location("near", 0.0, 1.0, stock={"X": 9, "Y": 9}),
                       Location("partial", 0.0, 0.5, stock={"X": 9})])
    for policy in POLICIES:
        decision = source(delivery({"X": 2, "Y": 1}), network, policy=policy)
        expected = [("near", {"X": 2, "Y": 1})]
        if policy == "greedy":  # the baseline takes each line from its nearest holder, even when that splits
            expected = [("partial", {"X": 2}), ("near", {"Y": 1})]
        assert [(s.location_id, s.units) for s in decision.shipments] == expected, policy
        assert decision.policy == policy


def test_greedy_takes_each_line_from_its_nearest_holder_and_most_lines_the_fewest_parcels():
    network = Network([Location("x_only", 0.0, 0.5, stock={"X": 9}),
                       Location("both", 0.0, 1.0, stock={"X": 9, "Y": 9}),
                       Location("y_short", 0.0, 0.2, stock={"Y": 1})])
    order = delivery({"X": 1, "Y": 2})
    greedy = source(order, network, policy="greedy")
    assert [(s.location_id, s.units) for s in greedy.shipments] == [("x_only", {"X": 1}), ("both", {"Y": 2})]
    assert greedy.split and greedy.notes == ("2 locations: each line from the nearest location that can send it",)
    assert [a.location_ids for a in greedy.alternatives] == [("y_short",)]  # the next nearest, alone
    most_lines = source(order, network, policy="most_lines")
    assert [(s.location_id, s.units) for s in most_lines.shipments] == [("both", {"X": 1, "Y": 2})]
    # a line nobody can send in full takes its units from the nearest holders in turn
    short = source(delivery({"Y": 11}), network, policy="greedy")
    assert [(s.location_id, s.units) for s in short.shipments] == [("y_short", {"Y": 1}), ("both", {"Y": 9})]
    assert short.unfilled_units == 1


def test_the_default_policy_proves_a_single_parcel_optimal_and_lists_the_alternatives():
    network = Network([Location("far", 0.0, 5.0, stock={"X": 9}), Location("near", 0.0, 1.0, stock={"X": 9})])
    decision = source(delivery({"X": 1}), network)
    assert decision.lower_bound == pytest.approx(decision.total_cost, abs=1e-12)
    assert "proven optimal: no other plan can cost less" in decision.notes
    assert [(a.location_ids, a.unfilled_units) for a in decision.alternatives] == [(("far",), 0)]
    assert decision.alternatives[0].total_cost > decision.total_cost


def test_source_reads_the_network_without_changing_it_and_consume_takes_the_units():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 3}, capacity=10)])
    decision = source(delivery({"X": 2}), network)
    assert (network.available("A", "X"), network.capacity_left("A")) == (3, 10)
    network.consume(decision.picks)
    assert (network.available("A", "X"), network.capacity_left("A")) == (1, 8)


def test_a_location_never_picks_more_units_than_its_remaining_capacity():
    network = Network([Location("near", 0.0, 1.0, stock={"X": 5}, capacity=2),
                       Location("far", 0.0, 3.0, stock={"X": 5})])
    for policy in POLICIES:
        decision = source(delivery({"X": 3}), network, policy=policy)
        units = {s.location_id: s.units["X"] for s in decision.shipments}
        assert units.get("near", 0) <= 2, policy
        assert sum(units.values()) == 3 and decision.unfilled == {}, policy


def test_a_location_without_capacity_left_is_not_used_and_the_reason_says_so():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 5}, capacity=0)])
    decision = source(delivery({"X": 1}), network)
    assert (decision.shipments, decision.unfilled, decision.reasons) == ((), {"X": 1}, {"X": "no_capacity"})


def test_lines_competing_for_the_last_capacity_leave_one_unfilled_for_capacity():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 1, "Y": 1}, capacity=1)])
    for policy in POLICIES:
        decision = source(delivery({"X": 1, "Y": 1}), network, policy=policy)
        assert decision.unfilled_units == 1 and sum(p.quantity for p in decision.picks) == 1, policy
        assert list(decision.reasons.values()) == ["capacity"], policy


def test_an_unknown_sku_is_unfilled_with_a_reason_and_the_other_lines_still_ship():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 5})])
    for policy in POLICIES:
        decision = source(delivery({"X": 1, "NOPE": 2}), network, policy=policy)
        assert decision.unfilled == {"NOPE": 2}
        assert decision.reasons == {"NOPE": "unknown_sku"}
        assert decision.shipments[0].units == {"X": 1}
        assert decision.to_dict()["reasons"] == {"NOPE": {"code": "unknown_sku",
                                                          "detail": "no location in the network lists this SKU"}}


def test_an_order_nobody_can_serve_is_a_decision_with_every_line_unfilled():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 0})])
    for policy in POLICIES:
        decision = source(delivery({"X": 2}), network, policy=policy)
        assert (decision.shipments, decision.unfilled, decision.reasons) == ((), {"X": 2}, {"X": "out_of_stock"})
        assert decision.total_cost == 2000.0
    pickup = Order("o2", {"X": 1}, pickup_location_id="nowhere")
    decision = source(pickup, network)
    assert (decision.unfilled, decision.reasons) == ({"X": 1}, {"X": "unknown_pickup_location"})


def test_a_store_without_ship_from_store_does_not_send_parcels():
    network = Network([Location("store", 0.0, 0.1, stock={"X": 5}, kind="store", ships=False),
                       Location("warehouse", 0.0, 4.0, stock={"X": 5})])
    decision = source(delivery({"X": 1}), network)
    assert [s.location_id for s in decision.shipments] == ["warehouse"]
    alone = Network([Location("store", 0.0, 0.1, stock={"X": 5}, kind="store", ships=False)])
    assert source(delivery({"X": 1}), alone).reasons == {"X": "no_route"}


def test_between_equal_locations_the_lot_nearest_expiry_leaves_first():
    network = Network([Location("fresh", 0.0, 1.0, stock={"X": 4}, lots={"X": (Lot(4, 200),)}),
                       Location("expiring", 0.0, 1.0, stock={"X": 4}, lots={"X": (Lot(4, 3),)}),
                       Location("undated", 0.0, 1.0, stock={"X": 4})])
    for policy in ("default", "optimal"):  # greedy knows lines and distance only
        decision = source(delivery({"X": 2}), network, policy=policy)
        assert [s.location_id for s in decision.shipments] == ["expiring"], policy
        assert decision.shipments[0].picks[0].lots == ((2, 3),)


def test_the_expiry_preference_only_breaks_ties_and_never_beats_distance():
    network = Network([Location("near", 0.0, 1.0, stock={"X": 4}),
                       Location("far_expiring", 0.0, 3.0, stock={"X": 4}, lots={"X": (Lot(4, 1),)})])
    for policy in POLICIES:
        assert [s.location_id for s in source(delivery({"X": 1}), network, policy=policy).shipments] == ["near"]


def test_a_pickup_uses_the_stores_own_stock_then_a_transfer_lane():
    network = Network([Location("store", 0.0, 0.0, stock={"X": 1}, kind="store", ships=False),
                       Location("hub", 0.0, 2.0, stock={"X": 5, "Y": 5}, kind="hub")],
                      lanes=[Lane("hub", "store", cost_per_unit=0.3, delay_days=2)])
    for policy in POLICIES:
        decision = source(Order("p1", {"X": 2, "Y": 1}, pickup_location_id="store"), network, policy=policy)
        picks = sorted((p.location_id, p.sku, p.quantity, p.via) for p in decision.picks)
        assert picks == [("hub", "X", 1, "store"), ("hub", "Y", 1, "store"), ("store", "X", 1, None)], policy
        assert (decision.packages, decision.ready_in_days, decision.split) == (0, 2, True)
        assert decision.cost.transfer == pytest.approx(0.6, abs=1e-12)
        assert decision.cost.delay == pytest.approx(2 * 2 * 0.10, abs=1e-12)
        assert decision.total_cost == pytest.approx(3 * 0.423 + 0.6 + 0.4, abs=1e-9)


def test_a_hub_consolidates_two_origins_into_one_parcel_when_that_is_cheaper():
    network = Network([Location("a", 0.0, 1.0, stock={"X": 1}, ships=False),
                       Location("b", 0.0, 1.2, stock={"Y": 1}),
                       Location("hub", 0.0, 1.1, kind="hub")],
                      lanes=[Lane("a", "hub", cost_per_unit=0.2, delay_days=1),
                             Lane("b", "hub", cost_per_unit=0.2, delay_days=1)])
    hub_km = network.distances_km(0.0, 0.0, [2])[2]
    for policy in POLICIES:
        decision = source(delivery({"X": 1, "Y": 1}), network, policy=policy)
        assert [s.location_id for s in decision.shipments] == ["hub"], policy
        assert sorted((p.location_id, p.via) for p in decision.picks) == [("a", "hub"), ("b", "hub")]
        assert decision.total_cost == pytest.approx(8.759 + 2 * 0.423 + 2 * CostModel().item_km * hub_km + 0.4 + 0.2,
                                                    abs=1e-9)
        assert decision.ready_in_days == 1


def test_every_decision_is_json_serialisable_and_names_its_policy():
    network = Network([Location("A", 10.0, 10.0, stock={"X": 2}, lots={"X": (Lot(1, 5),)}),
                       Location("B", 11.0, 10.0, stock={"Y": 1}),
                       Location("S", 10.5, 10.5, stock={}, kind="store")],
                      lanes=[Lane("A", "S")])
    orders = [delivery({"X": 2, "Y": 1, "Z": 1}, 10.2, 10.2), Order("p", {"X": 1}, pickup_location_id="S")]
    for policy in POLICIES:
        for order in orders:
            data = json.loads(json.dumps(source(order, network, policy=policy).to_dict()))
            assert data["policy"] == policy
            assert set(data) == {"order_id", "policy", "fulfilment", "shipments", "packages", "split", "unfilled",
                                 "reasons", "cost", "ready_in_days", "alternatives", "lower_bound", "notes"}
    batch = source_batch(orders, network)
    assert [json.loads(json.dumps(d.to_dict()))["policy"] for d in batch.decisions] == ["optimal_batch"] * 2


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown sourcing policy 'cheapest'"):
        source(delivery({"X": 1}), Network([]), policy="cheapest")


def test_orders_in_sequence_take_what_the_earlier_ones_left():
    network = Network([Location("near", 0.0, 1.0, stock={"X": 1}), Location("far", 0.0, 2.0, stock={"X": 1})])
    first, second, third = source_sequence([delivery({"X": 1}, id_=f"o{i}") for i in range(3)], network)
    assert [s.location_id for s in first.shipments] == ["near"]
    assert [s.location_id for s in second.shipments] == ["far"]
    assert (third.unfilled, third.reasons) == ({"X": 1}, {"X": "out_of_stock"})
    assert network.available("near", "X") == 1  # the caller's network is untouched


def test_the_batch_shares_capacity_and_beats_sourcing_in_sequence():
    # The first order can go anywhere; the second only to "near". Online, the first takes "near"'s capacity.
    network = Network([Location("near", 0.0, 1.0, stock={"X": 1, "Y": 1}, capacity=1),
                       Location("other", 0.0, 1.5, stock={"X": 1})])
    orders = [delivery({"X": 1}, id_="first"), delivery({"Y": 1}, id_="second")]
    online = source_sequence(orders, network, CostModel())
    assert online[1].unfilled == {"Y": 1}
    batch = source_batch(orders, network)
    assert [d.unfilled for d in batch.decisions] == [{}, {}]
    assert [[s.location_id for s in d.shipments] for d in batch.decisions] == [["other"], ["near"]]
    assert batch.total_cost < sum(d.total_cost for d in online)
    assert (batch.windows, batch.improved_windows) == (2, 1)
    assert batch.decisions[0].alternatives[0].note == "default policy, sourced online"
    state = network.copy()
    for decision in batch.decisions:
        state.consume(decision.picks)
    assert state.capacity_left("near") == 0


def test_a_batch_already_at_its_lower_bound_is_not_resolved():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 9})])
    batch = source_batch([delivery({"X": 1}, id_=f"o{i}") for i in range(4)], network)
    assert (batch.windows, batch.skipped_windows, batch.improved_windows) == (2, 2, 0)
    assert batch.lower_bound == pytest.approx(batch.total_cost, abs=1e-9)


def test_a_network_refuses_duplicate_ids_and_lanes_to_unknown_places():
    with pytest.raises(ValueError, match="appears twice"):
        Network([Location("A", 0, 0), Location("A", 1, 1)])
    with pytest.raises(ValueError, match="unknown location"):
        Network([Location("A", 0, 0)], lanes=[Lane("A", "B")])
    with pytest.raises(ValueError, match="kind must be one of"):
        Location("A", 0, 0, kind="shop")
    with pytest.raises(ValueError, match="needs a destination"):
        Order("o", {"X": 1})
    with pytest.raises(ValueError, match="positive integer"):
        Order("o", {"X": 0}, lat=0, lon=0)


def test_consuming_a_decision_that_no_longer_fits_changes_nothing():
    network = Network([Location("A", 0.0, 1.0, stock={"X": 2})])
    decision = source(delivery({"X": 2}), network)
    network.consume(decision.picks)
    with pytest.raises(ValueError, match="fewer than 2 of X"):
        network.consume(decision.picks)
    assert network.available("A", "X") == 0
