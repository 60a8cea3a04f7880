"""One reservation line in one statement (PostgreSQL) or one transaction (SQLite): the same outcomes."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core import clock
from omniretail.core.errors import DomainError
from omniretail.core.models import OutboxEvent
from omniretail.core.security import SYSTEM, Actor, Role
from omniretail.inventory import atp, service
from omniretail.inventory.fastpath import reserve_line
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import Reservation
from omniretail.inventory.reservations import Line
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn


@pytest.fixture
def shop(db):
    with db.write() as s:
        locations.register_location(s, actor=SYSTEM, data=LocationIn(id="store", name="Store", type="store",
                                                                     lat=52.0, lon=13.0, safety_stock=2))
        for sku, extra in (("SOAP", {}), ("MILK", {"perishable": True}),
                           ("GIFT", {"is_gift": True, "gift_min_stock": 3, "gift_low_policy": "hide"})):
            catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                                   data=ProductIn(sku=sku, name=sku.title(), price={"amount": "1.00"}, **extra))
        service.receive(s, actor=SYSTEM, location_id="store", sku="SOAP", quantity=10, lot="S1")
        service.receive(s, actor=SYSTEM, location_id="store", sku="GIFT", quantity=6, lot="G1")


def counts(db) -> tuple[int, int]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(Reservation)),
                s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "stock.reserved")))


def reserved(db, sku: str) -> int:
    with db.read() as s:
        return atp.level_detail(s, location_id="store", sku=sku).reserved


def test_a_line_is_reserved_with_its_row_and_its_event(db, shop):
    made = reserve_line(db, actor=SYSTEM, line=Line("store", "SOAP", 3), owner_type="order", owner_id="A-1",
                        reason="web order")

    assert [(r.location_id, r.quantity, r.status, r.owner_type, r.owner_id, r.reason) for r in made] == [
        ("store", 3, "active", "order", "A-1", "web order")]
    assert reserved(db, "SOAP") == 3
    with db.read() as s:
        row = s.get(Reservation, made[0].id)
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "stock.reserved")).one()
        assert (row.quantity, row.actor) == (3, "system")
        assert (event.object_type, event.object_id) == ("reservation", str(made[0].id))
        assert event.data == {"reservation_id": made[0].id, "location_id": "store", "sku": "SOAP", "quantity": 3,
                              "owner_type": "order", "owner_id": "A-1", "status": "active"}
        assert stock_violations(s) == []


def test_safety_stock_is_kept_back_unless_the_caller_says_otherwise(db, shop):
    with pytest.raises(DomainError) as short:
        reserve_line(db, actor=SYSTEM, line=Line("store", "SOAP", 9), owner_type="order", owner_id="A-1")

    assert short.value.code == "insufficient_stock"
    assert short.value.extra["short"] == [{"location_id": "store", "sku": "SOAP", "requested": 9, "available": 8}]
    assert counts(db) == (0, 0) and reserved(db, "SOAP") == 0
    reserve_line(db, actor=SYSTEM, line=Line("store", "SOAP", 9), owner_type="transfer", owner_id="T-1",
                 respect_safety_stock=False)
    assert reserved(db, "SOAP") == 9


def test_lots_that_expired_since_the_last_sweep_are_never_reserved(db, shop):
    today = clock.utcnow().date()
    with db.write() as s:
        service.receive(s, actor=SYSTEM, location_id="store", sku="MILK", quantity=5, lot="M1",
                        production_date=today - timedelta(days=3), expiry_date=today + timedelta(days=1))
    with clock.travel(timedelta(days=3)):
        with pytest.raises(DomainError) as short:
            reserve_line(db, actor=SYSTEM, line=Line("store", "MILK", 1), owner_type="order", owner_id="A-1")
    assert short.value.code == "insufficient_stock"
    assert counts(db) == (0, 0)


def test_a_gift_falls_back_to_the_full_path_and_is_flagged_when_it_runs_low(db, shop):
    reserve_line(db, actor=SYSTEM, line=Line("store", "GIFT", 1), owner_type="order", owner_id="A-1")

    with db.read() as s:
        low = s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "stock.low"))
    assert (reserved(db, "GIFT"), low) == (1, 1)


def test_bad_requests_are_refused_before_anything_is_written(db, shop):
    cases = [(Line("store", "SOAP", 0), "order", "invalid_quantity"), (Line("store", "NOPE", 1), "order",
                                                                        "unknown_sku"),
             (Line("nowhere", "SOAP", 1), "order", "unknown_location"), (Line("store", "SOAP", 1), "gift",
                                                                         "invalid_owner")]
    for line, owner_type, code in cases:
        with pytest.raises(DomainError) as refused:
            reserve_line(db, actor=SYSTEM, line=line, owner_type=owner_type, owner_id="A-1")
        assert refused.value.code == code
    associate = Actor(name="tablet", role=Role.ASSOCIATE, location_ids=frozenset({"elsewhere"}))
    with pytest.raises(DomainError) as forbidden:
        reserve_line(db, actor=associate, line=Line("store", "SOAP", 1), owner_type="order", owner_id="A-1")
    assert forbidden.value.code == "location_out_of_scope"
    assert counts(db) == (0, 0)


def test_thirty_two_threads_racing_for_the_last_units_take_exactly_those(db, shop):
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(32)

    def racer(n: int) -> None:
        start.wait()
        for _ in range(3):
            try:
                reserve_line(db, actor=SYSTEM, line=Line("store", "SOAP", 1), owner_type="order", owner_id=f"t{n}")
                result = "reserved"
            except DomainError as exc:
                result = exc.code
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes == {"reserved": 8, "insufficient_stock": 88}  # 10 on hand, 2 kept back as safety stock
    assert reserved(db, "SOAP") == 8
    assert counts(db) == (8, 8)
    with db.read() as s:
        assert stock_violations(s) == []


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # statement connections are PostgreSQL's
def test_a_statement_connection_the_server_dropped_is_replaced_on_the_next_reservation(db, shop):
    import psycopg

    reserve_line(db, actor=SYSTEM, line=Line("store", "SOAP", 1), owner_type="order", owner_id="A-1")
    with db.statement_connection() as connection:
        backend = connection.info.backend_pid
    with db.engine.begin() as other:
        other.exec_driver_sql(f"SELECT pg_terminate_backend({backend})")

    with pytest.raises(psycopg.OperationalError):
        reserve_line(db, actor=SYSTEM, line=Line("store", "SOAP", 1), owner_type="order", owner_id="A-2")
    made = reserve_line(db, actor=SYSTEM, line=Line("store", "SOAP", 2), owner_type="order", owner_id="A-3")

    assert [(r.owner_id, r.quantity) for r in made] == [("A-3", 2)]
    assert reserved(db, "SOAP") == 3
    with db.statement_connection() as connection:
        assert connection.info.backend_pid != backend
