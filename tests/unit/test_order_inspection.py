"""Order inspection rules: each objection with its stable code and text, verified details remembered,
thresholds configurable; and the delivery routing rule."""

from __future__ import annotations

import pytest

from omniretail.orders import inspection, routing
from omniretail.orders.inspection import Address, EarlierOrder, OrderFacts, Thresholds

HOME = Address(line1="Lindenstraße 5", city="Kassel", postcode="34117", country="DE", phone="+49 561 123456")
LINES = (("MILK", 2), ("SOAP", 1))
KNOWN = (EarlierOrder(id=7, status="completed", lines_key="other", minutes_ago=60 * 24 * 40),)


def facts(**changes: object) -> OrderFacts:
    base = {"fulfilment": "delivery", "payment_status": "authorised", "lines": LINES, "total_minor": 490,
            "address": HOME, "earlier_orders": KNOWN}
    return OrderFacts(**{**base, **changes})  # type: ignore[arg-type]


def codes(found: list[inspection.HoldReason]) -> list[str]:
    return [r.code for r in found]


def test_a_known_customers_ordinary_paid_delivery_is_clean() -> None:
    assert inspection.inspect(facts()) == []


def test_the_same_lines_within_the_window_are_a_repeat_in_any_order() -> None:
    earlier = EarlierOrder(id=41, status="confirmed", lines_key=inspection.lines_key([("SOAP", 1), ("MILK", 2)]),
                           minutes_ago=12.4)

    found = inspection.inspect(facts(earlier_orders=(earlier, *KNOWN)))

    assert found == [inspection.HoldReason("repeat_order", "The same items were ordered 12 minutes ago (order 41); "
                                                           "check that the customer wants both")]


def test_a_repeat_outside_the_window_or_of_a_cancelled_order_is_not_one() -> None:
    key = inspection.lines_key(LINES)
    old = EarlierOrder(id=1, status="confirmed", lines_key=key, minutes_ago=31)
    cancelled = EarlierOrder(id=2, status="cancelled", lines_key=key, minutes_ago=2)

    assert inspection.inspect(facts(earlier_orders=(old, cancelled, *KNOWN))) == []
    assert codes(inspection.inspect(facts(earlier_orders=(old, *KNOWN)), Thresholds(repeat_window_minutes=45))) \
        == ["repeat_order"]


def test_lines_of_one_sku_split_over_two_lines_fingerprint_like_one_line() -> None:
    assert inspection.lines_key([("MILK", 1), ("MILK", 1)]) == inspection.lines_key([("MILK", 2)])
    assert inspection.lines_key([("MILK", 1)]) != inspection.lines_key([("MILK", 2)])


def test_an_address_without_postcode_or_city_is_incomplete() -> None:
    found = inspection.inspect(facts(address=Address(line1="Lindenstraße 5", country="DE")))

    assert found == [inspection.HoldReason("incomplete_address", "The delivery address has no city, postcode")]


def test_a_country_without_postcodes_needs_none() -> None:
    address = Address(line1="Sheikh Zayed Road 1", city="Dubai", country="AE")

    assert inspection.inspect(facts(address=address, postcode_required=False)) == []


def test_an_address_that_cannot_be_checked_is_held_with_what_is_wrong() -> None:
    address = Address(line1="Lindenstraße", city="Kassel", postcode="3!", country="XX")

    found = inspection.inspect(facts(address=address, country_known=False))

    assert found == [inspection.HoldReason("unverifiable_address", "The delivery address cannot be checked: 'XX' is "
                                           "not a country code; '3!' is not a postcode; the street has no house "
                                           "number")]


def test_an_invalid_phone_is_held_and_a_missing_one_is_not() -> None:
    assert inspection.inspect(facts(address=Address(**{**HOME.__dict__, "phone": "0123"}))) == [
        inspection.HoldReason("invalid_phone", "'0123' is not a valid phone number in DE")]
    assert inspection.inspect(facts(address=Address(**{**HOME.__dict__, "phone": None}))) == []


def test_a_national_phone_number_is_read_in_the_delivery_country() -> None:
    assert inspection.inspect(facts(address=Address(**{**HOME.__dict__, "phone": "0561 123456"}))) == []


def test_a_new_customers_first_order_above_the_limit_is_held() -> None:
    assert codes(inspection.inspect(facts(earlier_orders=(), total_minor=25_001))) == ["new_customer_high_value"]
    assert inspection.inspect(facts(earlier_orders=(), total_minor=25_000)) == []
    held_only = (EarlierOrder(id=3, status="on_hold", lines_key="x", minutes_ago=400),)
    assert codes(inspection.inspect(facts(earlier_orders=held_only, total_minor=30_000))) == [
        "new_customer_high_value"]
    assert inspection.inspect(facts(total_minor=30_000)) == []


@pytest.mark.parametrize(("status", "expected"), [("failed", ["payment_failed"]), ("pending", ["payment_missing"]),
                                                  ("authorised", []), ("captured", []), ("cash_on_pickup", [])])
def test_a_failed_or_missing_payment_is_held(status: str, expected: list[str]) -> None:
    assert codes(inspection.inspect(facts(payment_status=status))) == expected


def test_unusual_quantities_are_held_per_line_and_per_order() -> None:
    assert inspection.inspect(facts(lines=(("MILK", 21),))) == [
        inspection.HoldReason("unusual_quantity", "Unusually many of one item: MILK × 21 (more than 20)")]
    many = tuple((f"SKU-{n}", 10) for n in range(7))
    assert inspection.inspect(facts(lines=many)) == [
        inspection.HoldReason("unusual_quantity", "Unusually many items: 70 (more than 60)")]
    assert inspection.inspect(facts(lines=many), Thresholds(max_units=100)) == []


def test_a_delivery_to_an_address_that_failed_before_is_held() -> None:
    assert inspection.inspect(facts(failed_deliveries=2)) == [
        inspection.HoldReason("address_failed_before", "Delivery to this address failed 2 times before")]


def test_a_pickup_is_not_inspected_for_its_address() -> None:
    assert inspection.inspect(facts(fulfilment="pickup", address=None, failed_deliveries=1)) == []


def test_details_staff_verified_pass_the_address_and_phone_rules() -> None:
    odd = Address(line1="Hof Lindenau", city="Kassel", postcode="34117", country="DE", phone="0123")
    verified = frozenset({inspection.address_fingerprint(odd), inspection.phone_fingerprint(odd)})

    assert codes(inspection.inspect(facts(address=odd))) == ["unverifiable_address", "invalid_phone"]
    assert inspection.inspect(facts(address=odd, verified=verified)) == []


def test_one_place_has_one_fingerprint_however_the_street_is_written() -> None:
    written = Address(line1="Lindenstr. 5", city="Kassel", postcode="34 117", country="de")

    assert inspection.address_fingerprint(written) == inspection.address_fingerprint(HOME)
    assert inspection.address_fingerprint(Address(line1="Lindenstraße 7", postcode="34117", country="DE")) \
        != inspection.address_fingerprint(HOME)


def test_several_objections_come_in_rule_order() -> None:
    found = inspection.inspect(facts(payment_status="failed", lines=(("MILK", 30),), earlier_orders=(),
                                     total_minor=90_000))

    assert codes(found) == ["new_customer_high_value", "payment_failed", "unusual_quantity"]


def test_disabled_rules_hold_nothing() -> None:
    enabled = inspection.parse_rules("payment_failed, unusual_quantity")

    assert inspection.inspect(facts(payment_status="pending", lines=(("MILK", 30),)), Thresholds(enabled=enabled)) \
        == [inspection.HoldReason("unusual_quantity", "Unusually many of one item: MILK × 30 (more than 20)")]
    assert inspection.inspect(facts(payment_status="failed"), Thresholds(enabled=inspection.parse_rules("none"))) == []


def test_the_rules_setting_is_all_none_or_known_codes() -> None:
    assert inspection.parse_rules("all") == frozenset(inspection.RULES)
    assert inspection.parse_rules("") == frozenset(inspection.RULES)
    with pytest.raises(ValueError, match="unknown inspection rule"):
        inspection.parse_rules("repeat_order,vibes")


# --- where a delivery is reserved -----------------------------------------------------------------


def test_a_delivery_goes_to_the_nearest_location_that_sends_every_line() -> None:
    far = routing.Candidate("far", 300.0, 0, {"MILK": 9, "SOAP": 9})
    near = routing.Candidate("near", 5.0, 1, {"MILK": 2, "SOAP": 1})
    nearest = routing.Candidate("nearest", 1.0, 1, {"MILK": 9})

    plan = routing.plan_delivery({"MILK": 2, "SOAP": 1}, [far, near, nearest])

    assert plan == routing.Plan([("near", "MILK", 2), ("near", "SOAP", 1)], [])


def test_without_coordinates_warehouses_come_before_stores() -> None:
    store = routing.Candidate("a-store", None, 1, {"MILK": 5})
    warehouse = routing.Candidate("z-warehouse", None, 0, {"MILK": 5})

    assert routing.plan_delivery({"MILK": 1}, [store, warehouse]).lines == [("z-warehouse", "MILK", 1)]


def test_when_no_location_sends_it_all_the_fewest_locations_are_used() -> None:
    a = routing.Candidate("a", 1.0, 1, {"MILK": 5})
    b = routing.Candidate("b", 2.0, 1, {"SOAP": 5, "RICE": 5})
    c = routing.Candidate("c", 3.0, 1, {"MILK": 5, "SOAP": 5, "TEA": 1})

    plan = routing.plan_delivery({"MILK": 1, "SOAP": 1, "TEA": 1, "RICE": 1}, [a, b, c])

    assert sorted(plan.lines) == [("b", "RICE", 1), ("c", "MILK", 1), ("c", "SOAP", 1), ("c", "TEA", 1)]


def test_a_line_no_location_holds_alone_is_split_biggest_holder_first() -> None:
    small = routing.Candidate("small", 1.0, 1, {"SOAP": 3})
    big = routing.Candidate("big", 9.0, 0, {"SOAP": 10})
    middle = routing.Candidate("middle", 5.0, 1, {"SOAP": 4})

    assert routing.plan_delivery({"SOAP": 12}, [small, big, middle]).lines == [("big", "SOAP", 10),
                                                                              ("middle", "SOAP", 2)]


def test_a_line_the_network_cannot_cover_is_short_with_what_there_is() -> None:
    plan = routing.plan_delivery({"SOAP": 12, "MILK": 1}, [routing.Candidate("a", 1.0, 1, {"SOAP": 5, "MILK": 1})])

    assert plan == routing.Plan([], [{"sku": "SOAP", "requested": 12, "available": 5}])
