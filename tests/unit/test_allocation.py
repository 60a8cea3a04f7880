from datetime import date

import pytest

from omniretail.inventory.allocation import (
    LotView,
    NotEnoughInLots,
    allocate_fefo,
    available,
    is_expired,
    next_expiry,
    removal_order,
    sellable,
)

TODAY = date(2026, 11, 23)


def lot(id_, quantity, expiry, expired=False):
    return LotView(id=id_, lot_code=f"L{id_}", quantity=quantity, expiry_date=expiry, expired=expired,
                   received_order=id_)


def test_a_lot_is_sellable_on_its_expiry_date_and_not_after():
    assert not is_expired(TODAY, TODAY)
    assert is_expired(date(2026, 11, 22), TODAY)
    assert not is_expired(None, TODAY)


def test_picking_takes_the_soonest_expiry_first_and_undated_lots_last():
    lots = [lot(1, 5, None), lot(2, 3, date(2026, 12, 10)), lot(3, 4, date(2026, 11, 30))]
    taken = allocate_fefo(lots, 8, TODAY)
    assert [(v.id, q) for v, q in taken] == [(3, 4), (2, 3), (1, 1)]


def test_expired_and_marked_lots_are_never_picked_or_sellable():
    lots = [lot(1, 5, date(2026, 11, 20)), lot(2, 5, date(2026, 12, 1), expired=True), lot(3, 2, date(2026, 12, 5))]
    assert [v.id for v in sellable(lots, TODAY)] == [3]
    with pytest.raises(NotEnoughInLots) as info:
        allocate_fefo(lots, 3, TODAY)
    assert (info.value.wanted, info.value.found) == (3, 2)


def test_write_offs_take_expired_lots_first_and_losses_take_live_lots_first():
    lots = [lot(1, 5, date(2026, 11, 20)), lot(2, 5, date(2026, 12, 1))]
    assert [v.id for v in removal_order(lots, TODAY, expired_first=True)] == [1, 2]
    assert [v.id for v in removal_order(lots, TODAY, expired_first=False)] == [2, 1]


def test_next_expiry_ignores_empty_and_marked_lots():
    lots = [lot(1, 0, date(2026, 11, 24)), lot(2, 5, date(2026, 12, 1), expired=True), lot(3, 1, date(2026, 12, 3))]
    assert next_expiry(lots, TODAY) == date(2026, 12, 3)


def test_available_deducts_reserved_expired_and_safety_stock_and_never_goes_negative():
    assert available(on_hand=10, reserved=3, expired=2, safety_stock=1) == 4
    assert available(on_hand=10, reserved=8, expired=2, safety_stock=1) == 0
