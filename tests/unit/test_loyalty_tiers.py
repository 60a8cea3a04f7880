"""Tiers by lifetime points and points for a purchase: the pure rules of the loyalty programme."""

import pytest

from omniretail.loyalty.tiers import (
    BASE_TIER,
    Tier,
    next_tier,
    parse_rules,
    parse_tiers,
    points_for,
    tier_for,
)

TIERS = (Tier("silver", 1000), Tier("gold", 5000))


def test_the_default_setting_parses_into_two_ascending_tiers():
    assert parse_tiers("silver:1000,gold:5000") == TIERS


def test_spaces_and_a_trailing_comma_are_tolerated():
    assert parse_tiers(" silver : 1000 , gold:5000 ,") == TIERS


def test_an_empty_setting_means_everyone_is_a_member():
    assert parse_tiers("") == ()
    assert tier_for(10**9, ()) == BASE_TIER
    assert next_tier(0, ()) is None


@pytest.mark.parametrize("text", ["silver", "silver:", ":1000", "silver:ten", "silver:-5", "silver:0",
                                  "gold:5000,silver:1000", "silver:1000,silver:2000", "silver:1000,gold:1000",
                                  "member:100", "a-very-long-tier-name-indeed:100"])
def test_a_malformed_tier_setting_is_refused(text):
    with pytest.raises(ValueError):
        parse_tiers(text)


def test_negative_points_per_unit_are_refused():
    with pytest.raises(ValueError):
        parse_rules(points_per_unit=-1, tiers="")


@pytest.mark.parametrize(("lifetime", "tier"), [(0, "member"), (999, "member"), (1000, "silver"), (4999, "silver"),
                                                (5000, "gold"), (2**31 - 1, "gold")])
def test_the_tier_is_the_highest_threshold_reached(lifetime, tier):
    assert tier_for(lifetime, TIERS) == tier


@pytest.mark.parametrize(("lifetime", "upcoming"), [(0, ("silver", 1000)), (999, ("silver", 1)),
                                                    (1000, ("gold", 4000)), (5000, None)])
def test_the_next_tier_names_the_points_still_needed(lifetime, upcoming):
    assert next_tier(lifetime, TIERS) == upcoming


@pytest.mark.parametrize(("minor", "exponent", "per_unit", "points"), [
    (1299, 2, 1, 12),      # 12.99 EUR: whole euros only
    (99, 2, 1, 0),         # under one euro earns nothing
    (10000, 2, 3, 300),    # 100.00 at 3 points per euro
    (1500, 0, 1, 1500),    # JPY has no minor unit
    (12345, 3, 2, 24),     # 12.345 KWD: three decimals
    (5000, 2, 0, 0),       # a programme that earns nothing on purchases
])
def test_a_purchase_earns_points_per_whole_currency_unit(minor, exponent, per_unit, points):
    assert points_for(minor, exponent=exponent, points_per_unit=per_unit) == points


def test_a_negative_amount_earns_no_points_but_an_error():
    with pytest.raises(ValueError):
        points_for(-100, exponent=2, points_per_unit=1)
