"""Rules of stock: first-expired-first-out, what is available, what has expired. Pure module."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class LotView:
    id: int
    lot_code: str
    quantity: int
    expiry_date: date | None
    expired: bool
    received_order: int = 0  # tie-break: earlier receipts first


class NotEnoughInLots(ValueError):
    def __init__(self, wanted: int, found: int) -> None:
        super().__init__(f"wanted {wanted}, sellable lots hold {found}")
        self.wanted, self.found = wanted, found


def is_expired(expiry_date: date | None, today: date) -> bool:
    """A lot may be sold on its expiry date and not after."""
    return expiry_date is not None and expiry_date < today


def fefo_key(lot: LotView) -> tuple[int, date, int, int]:
    """Soonest expiry first; lots without expiry last; then the oldest receipt."""
    return (lot.expiry_date is None, lot.expiry_date or date.max, lot.received_order, lot.id)


def sellable(lots: Iterable[LotView], today: date) -> list[LotView]:
    """Lots with units that may still be sold, in picking order."""
    return sorted((lot for lot in lots if lot.quantity > 0 and not lot.expired
                   and not is_expired(lot.expiry_date, today)), key=fefo_key)


def allocate_fefo(lots: Sequence[LotView], quantity: int, today: date) -> list[tuple[LotView, int]]:
    """Take `quantity` units from sellable lots, first-expired-first-out."""
    taken: list[tuple[LotView, int]] = []
    remaining = quantity
    for lot in sellable(lots, today):
        if remaining == 0:
            break
        take = min(lot.quantity, remaining)
        taken.append((lot, take))
        remaining -= take
    if remaining:
        raise NotEnoughInLots(quantity, quantity - remaining)
    return taken


def removal_order(lots: Sequence[LotView], today: date, *, expired_first: bool) -> list[LotView]:
    """Lots to remove lost or written-off units from: expired ones first for write-offs, else FEFO."""
    with_units = [lot for lot in lots if lot.quantity > 0]
    dead = sorted((lot for lot in with_units if lot.expired or is_expired(lot.expiry_date, today)), key=fefo_key)
    live = sorted((lot for lot in with_units if lot not in dead), key=fefo_key)
    return dead + live if expired_first else live + dead


def next_expiry(lots: Iterable[LotView], today: date) -> date | None:
    """Earliest expiry among lots that still count as sellable stock."""
    dates = [lot.expiry_date for lot in lots if lot.quantity > 0 and not lot.expired and lot.expiry_date is not None]
    return min(dates) if dates else None


def available(*, on_hand: int, reserved: int, expired: int, safety_stock: int = 0) -> int:
    """Units that can still be promised."""
    return max(0, on_hand - reserved - expired - safety_stock)
