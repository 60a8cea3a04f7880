"""Transfers on both databases: reserve at the source, pick short, ship lots, receive partly, close."""

from __future__ import annotations

from datetime import timedelta

import pytest

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core import clock
from omniretail.core.errors import DomainError
from omniretail.core.security import SYSTEM
from omniretail.inventory import atp, service, transfers
from omniretail.inventory.invariants import stock_violations
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn


@pytest.fixture
def network(db):
    with db.write() as s:
        for location_id, kind in (("wh", "warehouse"), ("st", "store")):
            locations.register_location(s, actor=SYSTEM, data=LocationIn(id=location_id, name=location_id,
                                                                        type=kind, lat=51.0, lon=9.0))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                               data=ProductIn(sku="JAM", name="Jam", price={"amount": "3.00"}, perishable=True))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                               data=ProductIn(sku="MUG", name="Mug", price={"amount": "6.00"}))
        today = clock.utcnow().date()
        service.receive(s, actor=SYSTEM, location_id="wh", sku="JAM", quantity=4, lot="J-SOON",
                        expiry_date=today + timedelta(days=5))
        service.receive(s, actor=SYSTEM, location_id="wh", sku="JAM", quantity=10, lot="J-LATE",
                        expiry_date=today + timedelta(days=40))
        service.receive(s, actor=SYSTEM, location_id="wh", sku="MUG", quantity=8, lot="M1")
    yield db
    with db.read() as s:
        assert stock_violations(s) == []


def level(db, location_id, sku):
    with db.read() as s:
        return atp.level_detail(s, location_id=location_id, sku=sku)


def test_a_transfer_moves_lots_with_their_dates_and_shows_inbound_stock_until_received(network):
    with network.write() as s:
        transfer_id = transfers.request(s, actor=SYSTEM, from_location_id="wh", to_location_id="st",
                                        lines=[("JAM", 6), ("MUG", 5)]).id
    assert (level(network, "wh", "JAM").reserved, level(network, "wh", "JAM").available) == (6, 8)
    with network.write() as s:
        transfers.pick(s, actor=SYSTEM, transfer_id=transfer_id, picked={"MUG": 3})
    assert level(network, "wh", "MUG").reserved == 3
    with network.write() as s:
        transfers.ship(s, actor=SYSTEM, transfer_id=transfer_id)
    jam_here, jam_there = level(network, "wh", "JAM"), level(network, "st", "JAM")
    assert (jam_here.on_hand, jam_here.reserved) == (8, 0)
    assert (jam_there.on_hand, jam_there.inbound, jam_there.available) == (0, 6, 0)
    with network.write() as s:
        transfers.receive(s, actor=SYSTEM, transfer_id=transfer_id, received={"JAM": 5, "MUG": 3})
        assert transfers.get_transfer(s, transfer_id).status == "in_transit"
    arrived = level(network, "st", "JAM")
    assert [(lot.lot_code, lot.quantity) for lot, _ in arrived.lots] == [("J-SOON", 4), ("J-LATE", 1)]
    assert (arrived.on_hand, arrived.inbound) == (5, 1)
    with network.write() as s:
        transfer = transfers.receive(s, actor=SYSTEM, transfer_id=transfer_id, received={}, close=True)
        lines = {sku: (line.shipped, line.received, line.discrepancy) for line, sku in transfers.lines_of(s, transfer)}
        assert transfer.status == "received"
    assert lines == {"JAM": (6, 5, 1), "MUG": (3, 3, 0)}
    assert level(network, "st", "JAM").inbound == 0


def test_receiving_more_than_is_on_its_way_is_refused_and_changes_nothing(network):
    with network.write() as s:
        transfer_id = transfers.request(s, actor=SYSTEM, from_location_id="wh", to_location_id="st",
                                        lines=[("MUG", 2)]).id
        transfers.pick(s, actor=SYSTEM, transfer_id=transfer_id)
        transfers.ship(s, actor=SYSTEM, transfer_id=transfer_id)
    with pytest.raises(DomainError) as info, network.write() as s:
        transfers.receive(s, actor=SYSTEM, transfer_id=transfer_id, received={"MUG": 3})
    assert info.value.code == "more_than_shipped" and info.value.extra["outstanding"] == 2
    assert (level(network, "st", "MUG").on_hand, level(network, "st", "MUG").inbound) == (0, 2)


def test_a_transfer_of_more_than_is_available_is_refused_whole(network):
    with pytest.raises(DomainError) as info, network.write() as s:
        transfers.request(s, actor=SYSTEM, from_location_id="wh", to_location_id="st",
                          lines=[("MUG", 2), ("JAM", 15)])
    assert info.value.code == "insufficient_stock"
    assert level(network, "wh", "MUG").reserved == 0
    with network.read() as s:
        assert transfers.list_transfers(s, limit=10) == []


def test_a_cancelled_transfer_gives_its_units_back_and_cannot_ship(network):
    with network.write() as s:
        transfer_id = transfers.request(s, actor=SYSTEM, from_location_id="wh", to_location_id="st",
                                        lines=[("MUG", 8)]).id
        transfers.cancel(s, actor=SYSTEM, transfer_id=transfer_id)
    assert level(network, "wh", "MUG").available == 8
    with pytest.raises(DomainError) as info, network.write() as s:
        transfers.ship(s, actor=SYSTEM, transfer_id=transfer_id)
    assert info.value.code == "invalid_transition"


def test_a_lot_that_expires_in_transit_arrives_as_expired_stock(network):
    with network.write() as s:
        transfer_id = transfers.request(s, actor=SYSTEM, from_location_id="wh", to_location_id="st",
                                        lines=[("JAM", 4)]).id
        transfers.pick(s, actor=SYSTEM, transfer_id=transfer_id)
        transfers.ship(s, actor=SYSTEM, transfer_id=transfer_id)
    clock._offset = timedelta(days=10)
    try:
        with network.write() as s:
            transfers.receive(s, actor=SYSTEM, transfer_id=transfer_id)
        arrived = level(network, "st", "JAM")
        assert (arrived.on_hand, arrived.expired, arrived.available) == (4, 4, 0)
    finally:
        clock._offset = timedelta(0)
