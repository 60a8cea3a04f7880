"""The fulfilment state machine, and the order status its fulfilments imply. Pure module.

    awaiting_transfer → created → picking → packed → shipped                  (delivery)
                                  picking | packed → ready_for_pickup → collected | expired   (pickup)
    cancelled: from any state before the goods leave
"""

from __future__ import annotations

from collections.abc import Iterable

from omniretail.core.errors import Conflict

AWAITING_TRANSFER, CREATED, PICKING, PACKED = "awaiting_transfer", "created", "picking", "packed"
SHIPPED, READY, COLLECTED, EXPIRED, CANCELLED = "shipped", "ready_for_pickup", "collected", "expired", "cancelled"

TRANSITIONS: dict[str, frozenset[str]] = {
    AWAITING_TRANSFER: frozenset({CREATED, CANCELLED}),
    CREATED: frozenset({PICKING, CANCELLED}),
    PICKING: frozenset({PACKED, READY, CANCELLED}),
    PACKED: frozenset({SHIPPED, READY, CANCELLED}),
    READY: frozenset({COLLECTED, EXPIRED, CANCELLED}),
    SHIPPED: frozenset(), COLLECTED: frozenset(), EXPIRED: frozenset(), CANCELLED: frozenset(),
}
#: Moves only one kind of fulfilment makes.
DELIVERY_ONLY, PICKUP_ONLY = frozenset({SHIPPED}), frozenset({READY, COLLECTED, EXPIRED})
GONE = frozenset({SHIPPED, COLLECTED})  # the goods left the location
FINISHED = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


class IllegalMove(Conflict):
    code, title = "illegal_transition", "Illegal transition"

    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"A {kind} fulfilment that is {current.replace('_', ' ')} cannot become "
                         f"{target.replace('_', ' ')}", status_from=current, status_to=target)


def check_move(kind: str, current: str, target: str) -> None:
    """Refuse a move the machine does not allow for this kind of fulfilment (409 `illegal_transition`)."""
    wrong_kind = (kind == "pickup" and target in DELIVERY_ONLY) or (kind == "delivery" and target in PICKUP_ONLY)
    if wrong_kind or target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalMove(kind, current, target)


def order_status(statuses: Iterable[str]) -> str | None:
    """What an order's fulfilments make of it: completed when every unit left, cancelled when its pickups
    expired uncollected, ready for pickup when all the rest waits at the counter, partially shipped when some
    units left, else in fulfilment; None for an order without live fulfilments."""
    live = [s for s in statuses if s != CANCELLED]
    if not live:
        return None
    if all(s in GONE for s in live):
        return "completed"
    if all(s == EXPIRED for s in live):
        return "cancelled"
    waiting = [s for s in live if s not in GONE and s != EXPIRED]
    if all(s == READY for s in waiting):
        return "ready_for_pickup"
    if any(s in GONE for s in live):
        return "partially_shipped"
    return "in_fulfilment"
