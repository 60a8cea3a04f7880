"""Errors of inventory, each with a stable code."""

from __future__ import annotations

from typing import Any

from omniretail.core.errors import Conflict


class InsufficientStock(Conflict):
    code, title = "insufficient_stock", "Insufficient stock"

    def __init__(self, short: list[dict[str, Any]]) -> None:
        names = ", ".join(f"{s['sku']} at {s['location_id']} (asked {s['requested']}, available {s['available']})"
                          for s in short)
        super().__init__(f"Not enough stock: {names}", short=short)
