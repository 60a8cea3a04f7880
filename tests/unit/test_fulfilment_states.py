"""The fulfilment state machine and the order status its fulfilments imply."""

from __future__ import annotations

import pytest

from omniretail.fulfilment import states


@pytest.mark.parametrize("statuses, order", [
    ([], None),
    (["cancelled"], None),
    (["created", "picking"], "in_fulfilment"),
    (["awaiting_transfer", "ready_for_pickup"], "in_fulfilment"),
    (["shipped", "packed"], "partially_shipped"),
    (["shipped", "collected", "cancelled"], "completed"),
    (["ready_for_pickup", "ready_for_pickup"], "ready_for_pickup"),
    (["collected", "ready_for_pickup"], "ready_for_pickup"),
    (["expired", "expired"], "cancelled"),
    (["expired", "ready_for_pickup"], "ready_for_pickup"),
])
def test_an_order_follows_its_fulfilments(statuses, order):
    assert states.order_status(statuses) == order


@pytest.mark.parametrize("kind, current, target", [
    ("pickup", "packed", "shipped"), ("delivery", "packed", "ready_for_pickup"), ("delivery", "created", "packed"),
    ("pickup", "collected", "cancelled"), ("delivery", "shipped", "cancelled"), ("pickup", "created", "collected"),
])
def test_moves_the_machine_or_the_kind_does_not_allow_are_refused(kind, current, target):
    with pytest.raises(states.IllegalMove) as refused:
        states.check_move(kind, current, target)
    assert (refused.value.code, refused.value.extra["status_from"]) == ("illegal_transition", current)


@pytest.mark.parametrize("kind, path", [
    ("delivery", ["created", "picking", "packed", "shipped"]),
    ("pickup", ["awaiting_transfer", "created", "picking", "ready_for_pickup", "collected"]),
    ("pickup", ["created", "picking", "packed", "ready_for_pickup", "expired"]),
])
def test_the_usual_paths_are_allowed(kind, path):
    for current, target in zip(path, path[1:], strict=False):
        states.check_move(kind, current, target)
