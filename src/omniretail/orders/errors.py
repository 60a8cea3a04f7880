"""Errors of orders, each with a stable code."""

from __future__ import annotations

from typing import Any

from omniretail.core.errors import Conflict


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "Illegal transition"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"An order that is {current.replace('_', ' ')} cannot become {target.replace('_', ' ')}",
                         status_from=current, status_to=target)


class NetworkShort(Conflict):
    """Not enough stock anywhere the order could be delivered from."""

    code, title = "insufficient_stock", "Insufficient stock"

    def __init__(self, short: list[dict[str, Any]]) -> None:
        names = ", ".join(f"{s['sku']} (asked {s['requested']}, available {s['available']})" for s in short)
        super().__init__(f"Not enough stock in the network: {names}", short=short)
