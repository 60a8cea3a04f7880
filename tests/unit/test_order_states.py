"""The order state machine: the moves it allows, and 409 `illegal_transition` for the rest."""

from __future__ import annotations

import pytest

from omniretail.orders import states
from omniretail.orders.errors import IllegalTransition

ALLOWED = [
    ("created", "inspecting"), ("created", "completed"), ("created", "cancelled"),
    ("inspecting", "confirmed"), ("inspecting", "on_hold"), ("inspecting", "cancelled"),
    ("on_hold", "confirmed"), ("on_hold", "cancelled"),
    ("confirmed", "on_hold"), ("confirmed", "in_fulfilment"), ("confirmed", "cancelled"),
    ("in_fulfilment", "partially_shipped"), ("in_fulfilment", "ready_for_pickup"), ("in_fulfilment", "completed"),
    ("in_fulfilment", "cancelled"),
    ("partially_shipped", "completed"),
    ("ready_for_pickup", "completed"), ("ready_for_pickup", "cancelled"),
    ("completed", "returned"),
]


def test_exactly_the_documented_moves_are_allowed() -> None:
    allowed = [(a, b) for a in states.STATUSES for b in states.STATUSES if states.can_move(a, b)]

    assert sorted(allowed) == sorted(ALLOWED)


@pytest.mark.parametrize(("current", "target"), [
    ("cancelled", "confirmed"), ("completed", "cancelled"), ("returned", "completed"), ("on_hold", "in_fulfilment"),
    ("created", "confirmed"), ("confirmed", "confirmed"), ("partially_shipped", "cancelled"),
])
def test_an_illegal_move_is_a_409_naming_both_states(current: str, target: str) -> None:
    with pytest.raises(IllegalTransition) as refused:
        states.check_move(current, target)

    assert (refused.value.status, refused.value.code) == (409, "illegal_transition")
    assert (refused.value.extra["status_from"], refused.value.extra["status_to"]) == (current, target)


def test_a_path_lists_each_step_and_stops_at_the_first_illegal_one() -> None:
    assert states.path("created", "inspecting", "on_hold", "confirmed") == [
        ("created", "inspecting"), ("inspecting", "on_hold"), ("on_hold", "confirmed")]
    with pytest.raises(IllegalTransition):
        states.path("created", "inspecting", "completed")


def test_cancelled_and_returned_are_final_and_hold_no_stock() -> None:
    assert states.FINAL == {"cancelled", "returned"}
    assert not states.HOLDING_STOCK & {"cancelled", "returned", "completed"}


def test_an_unknown_state_moves_nowhere() -> None:
    assert not states.can_move("lost", "confirmed")
