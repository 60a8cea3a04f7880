"""Cart rules without a database: joining carts, grouping lines into orders, where a hold is reserved."""

from omniretail.carts.rules import (
    MAX_LINE_QUANTITY,
    Fulfilment,
    LineRef,
    default_channel,
    group_lines,
    hold_location,
    plan_join,
    serving_location,
)


def test_joining_adds_up_the_same_sku_and_moves_the_others_in():
    plan = plan_join([LineRef(1, 100, 2), LineRef(2, 200, 1)], [LineRef(7, 100, 3), LineRef(8, 300, 4)])

    assert (plan.new_quantities, plan.moved, plan.folded, plan.dropped, plan.capped) == ({1: 5}, [8], [7], [], [])


def test_two_incoming_lines_of_one_sku_fold_into_the_first_that_moves_in():
    plan = plan_join([], [LineRef(9, 100, 1), LineRef(5, 100, 2)])

    assert (plan.moved, plan.folded, plan.new_quantities) == ([5], [9], {5: 3})


def test_a_joined_quantity_stops_at_the_line_maximum():
    plan = plan_join([LineRef(1, 100, MAX_LINE_QUANTITY - 1)], [LineRef(2, 100, 5)])

    assert (plan.new_quantities, plan.capped) == ({1: MAX_LINE_QUANTITY}, [100])


def test_a_full_cart_drops_new_skus_but_still_adds_up_known_ones():
    plan = plan_join([LineRef(1, 100, 1)], [LineRef(2, 200, 1), LineRef(3, 100, 1)], max_lines=1)

    assert (plan.moved, plan.dropped, plan.folded, plan.new_quantities) == ([], [2], [3], {1: 2})


def test_lines_with_their_own_way_of_fulfilment_become_orders_of_their_own_after_the_default():
    default = Fulfilment("pickup", "store-a")
    groups = group_lines([(1, None), (2, Fulfilment("delivery")), (3, Fulfilment("pickup", "store-b")),
                          (4, Fulfilment("pickup", "store-a")), (5, Fulfilment("delivery"))], default)

    assert groups == [(default, [1, 4]), (Fulfilment("delivery"), [2, 5]), (Fulfilment("pickup", "store-b"), [3])]


def test_a_hold_goes_to_the_pickup_store_else_where_most_units_are():
    assert hold_location(quantity=3, preferred="store-a", available={"wh": 50}) == "store-a"
    assert hold_location(quantity=3, preferred=None, available={"a": 4, "b": 9, "c": 9}) == "b"
    assert hold_location(quantity=30, preferred=None, available={"a": 4, "b": 9}) == "b"
    assert hold_location(quantity=1, preferred=None, available={}) is None


def test_a_line_is_served_from_its_own_store_none_when_delivered_else_the_carts_store():
    assert serving_location(line_fulfilment="pickup", line_location="b", cart_pickup="a") == "b"
    assert serving_location(line_fulfilment="delivery", line_location=None, cart_pickup="a") is None
    assert serving_location(line_fulfilment=None, line_location=None, cart_pickup="a") == "a"


def test_an_unnamed_channel_is_the_keys_else_the_roles_usual_one():
    assert default_channel(role="integration", key_channel="app", cart_channel="web") == "app"
    assert default_channel(role="associate", key_channel=None, cart_channel="web") == "pos"
    assert default_channel(role="agent", key_channel=None, cart_channel="web") == "call_centre"
    assert default_channel(role="admin", key_channel=None, cart_channel="app") == "app"
