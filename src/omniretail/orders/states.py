"""The order state machine. Pure module.

    created → inspecting → on_hold ⇄ confirmed → in_fulfilment → partially_shipped → completed → returned
                                                              ↘ ready_for_pickup → completed
    cancelled: from any state before the goods leave (created … in_fulfilment, ready_for_pickup)
    created → completed: a sale paid and handed over at the till (nothing left to inspect or fulfil)
"""

from __future__ import annotations

from omniretail.orders.errors import IllegalTransition

CREATED, INSPECTING, ON_HOLD, CONFIRMED = "created", "inspecting", "on_hold", "confirmed"
IN_FULFILMENT, PARTIALLY_SHIPPED, READY_FOR_PICKUP = "in_fulfilment", "partially_shipped", "ready_for_pickup"
COMPLETED, CANCELLED, RETURNED = "completed", "cancelled", "returned"

TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({INSPECTING, COMPLETED, CANCELLED}),
    INSPECTING: frozenset({CONFIRMED, ON_HOLD, CANCELLED}),
    ON_HOLD: frozenset({CONFIRMED, CANCELLED}),
    CONFIRMED: frozenset({ON_HOLD, IN_FULFILMENT, CANCELLED}),
    IN_FULFILMENT: frozenset({PARTIALLY_SHIPPED, READY_FOR_PICKUP, COMPLETED, CANCELLED}),
    PARTIALLY_SHIPPED: frozenset({COMPLETED}),
    READY_FOR_PICKUP: frozenset({COMPLETED, CANCELLED}),
    COMPLETED: frozenset({RETURNED}),
    CANCELLED: frozenset(),
    RETURNED: frozenset(),
}
STATUSES = tuple(TRANSITIONS)
#: States in which the order still holds its stock reserved.
HOLDING_STOCK = frozenset({CREATED, INSPECTING, ON_HOLD, CONFIRMED, IN_FULFILMENT, PARTIALLY_SHIPPED,
                           READY_FOR_PICKUP})
FINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


def can_move(current: str, target: str) -> bool:
    """Whether an order in `current` may move to `target`."""
    return target in TRANSITIONS.get(current, frozenset())


def check_move(current: str, target: str) -> None:
    """Refuse a move the state machine does not allow (409 `illegal_transition`)."""
    if not can_move(current, target):
        raise IllegalTransition(current, target)


def path(current: str, *targets: str) -> list[tuple[str, str]]:
    """The (from, to) steps of moving through `targets` in turn, each checked."""
    steps = []
    for target in targets:
        check_move(current, target)
        steps.append((current, target))
        current = target
    return steps
