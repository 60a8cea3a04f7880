"""32 threads race for the last units of one SKU: exactly that many units are reserved, never more."""

from __future__ import annotations

import random
import threading
from collections import Counter

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core.errors import DomainError
from omniretail.core.security import SYSTEM
from omniretail.inventory import atp, reservations, service
from omniretail.inventory.invariants import stock_violations
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn

THREADS = 32
UNITS = 40


def test_racing_threads_reserve_exactly_the_units_there_are(db):
    with db.write() as s:
        for location_id in ("hot", "cold"):
            locations.register_location(s, actor=SYSTEM, data=LocationIn(id=location_id, name=location_id,
                                                                        type="store", lat=52.0, lon=13.0))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                               data=ProductIn(sku="LAST", name="Last units", price={"amount": "5.00"}))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                               data=ProductIn(sku="OTHER", name="Other", price={"amount": "5.00"}))
        service.receive(s, actor=SYSTEM, location_id="hot", sku="LAST", quantity=UNITS, lot="L1")
        service.receive(s, actor=SYSTEM, location_id="cold", sku="OTHER", quantity=1000, lot="L1")

    outcomes: Counter[str] = Counter()
    units_won = Counter()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def racer(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        for _ in range(4):
            quantity = rng.randint(1, 3)
            # Half the racers also want an uncontested line, taken in the other order: no deadlock may follow.
            lines = [reservations.Line("hot", "LAST", quantity)]
            if n % 2:
                lines.insert(0, reservations.Line("cold", "OTHER", 1))
            try:
                with db.write() as s:
                    reservations.reserve(s, actor=SYSTEM, lines=lines, owner_type="order", owner_id=f"t{n}")
                with lock:
                    outcomes["reserved"] += 1
                    units_won[n] += quantity
            except DomainError as exc:
                with lock:
                    outcomes[exc.code] += 1

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert set(outcomes) <= {"reserved", "insufficient_stock"}
    assert outcomes["reserved"] + outcomes["insufficient_stock"] == THREADS * 4
    with db.read() as s:
        level = atp.level_detail(s, location_id="hot", sku="LAST")
        assert stock_violations(s) == []
    assert level.reserved == sum(units_won.values())
    assert level.reserved <= UNITS and level.on_hand == UNITS
    # Asks of 1-3 units keep coming until every racer is refused: at most 2 units can be left over.
    assert UNITS - level.reserved <= 2


def test_racing_threads_for_single_units_reserve_exactly_n(db):
    with db.write() as s:
        locations.register_location(s, actor=SYSTEM, data=LocationIn(id="hot", name="hot", type="store",
                                                                    lat=52.0, lon=13.0))
        catalog.create_product(s, actor=SYSTEM, default_currency="EUR",
                               data=ProductIn(sku="LAST", name="Last units", price={"amount": "5.00"}))
        service.receive(s, actor=SYSTEM, location_id="hot", sku="LAST", quantity=17, lot="L1")
    won = []
    start = threading.Barrier(THREADS)

    def racer(n: int) -> None:
        start.wait()
        try:
            with db.write() as s:
                reservations.reserve(s, actor=SYSTEM, lines=[reservations.Line("hot", "LAST", 1)],
                                     owner_type="order", owner_id=f"t{n}")
            won.append(n)
        except DomainError as exc:
            assert exc.code == "insufficient_stock"

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as s:
        assert atp.level_detail(s, location_id="hot", sku="LAST").reserved == 17
        assert stock_violations(s) == []
    assert len(won) == 17
