"""Random sequences of receipts, reservations, releases, consumption, adjustments, counts and the
passing of days keep every stock invariant, and a reservation succeeds exactly when stock allows."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from omniretail.catalog import service as catalog
from omniretail.catalog.schemas import ProductIn
from omniretail.core import clock
from omniretail.core.errors import DomainError
from omniretail.core.security import SYSTEM
from omniretail.inventory import atp, reservations, service, transfers
from omniretail.inventory.invariants import stock_violations
from omniretail.locations import service as locations
from omniretail.locations.schemas import LocationIn

RUNS = itertools.count()


def make_machine(db):  # type: ignore[no-untyped-def]
    class StockMachine(RuleBasedStateMachine):
        reserved = Bundle("reserved")

        def __init__(self) -> None:
            super().__init__()
            run = next(RUNS)
            self.locations = [f"p{run}-a", f"p{run}-b"]
            self.skus = [f"P{run}-FRESH", f"P{run}-DRY"]
            clock._offset = timedelta(0)
            with db.write() as s:
                for i, location_id in enumerate(self.locations):
                    locations.register_location(s, actor=SYSTEM, data=LocationIn(
                        id=location_id, name=location_id, type="store", lat=50.0 + i, lon=8.0, pickup=True,
                        safety_stock=i))
                for sku in self.skus:
                    catalog.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
                        sku=sku, name=sku, price={"amount": "1.00"}, perishable=sku.endswith("FRESH")))

        def available(self, location_id: str, sku: str, safety: bool = True) -> int:
            with db.read() as s:
                detail = atp.level_detail(s, location_id=location_id, sku=sku)
            return detail.available if safety else max(0, detail.on_hand - detail.reserved - detail.expired)

        @rule(loc=st.integers(0, 1), product=st.integers(0, 1), quantity=st.integers(1, 20),
              lot=st.integers(0, 3), days=st.integers(1, 20))
        def receive(self, loc: int, product: int, quantity: int, lot: int, days: int) -> None:
            sku = self.skus[product]
            expiry = clock.utcnow().date() + timedelta(days=days) if sku.endswith("FRESH") else None
            try:
                with db.write() as s:
                    service.receive(s, actor=SYSTEM, location_id=self.locations[loc], sku=sku, quantity=quantity,
                                    lot=f"L{lot}-{days}", expiry_date=expiry)
            except DomainError as exc:
                assert exc.code in ("lot_dates_conflict", "expired_on_receipt"), exc.code

        @rule(target=reserved, loc=st.integers(0, 1), product=st.integers(0, 1), quantity=st.integers(1, 15),
              safety=st.booleans())
        def reserve(self, loc: int, product: int, quantity: int, safety: bool):  # type: ignore[no-untyped-def]
            location_id, sku = self.locations[loc], self.skus[product]
            before = self.available(location_id, sku, safety)
            try:
                with db.write() as s:
                    made = reservations.reserve(s, actor=SYSTEM, lines=[reservations.Line(location_id, sku, quantity)],
                                                owner_type="manual", owner_id="prop", respect_safety_stock=safety)
                    ids = [r.id for r in made]
            except DomainError as exc:
                assert exc.code == "insufficient_stock" and before < quantity, (exc.code, before, quantity)
                return None
            assert before >= quantity, (before, quantity)
            return ids[0]

        @rule(reservation=consumes(reserved))
        def release(self, reservation: int | None) -> None:
            if reservation is None:
                return
            try:
                with db.write() as s:
                    reservations.release(s, actor=SYSTEM, reservation_id=reservation)
            except DomainError as exc:
                assert exc.code == "reservation_not_active"

        @rule(reservation=consumes(reserved))
        def consume(self, reservation: int | None) -> None:
            if reservation is None:
                return
            try:
                with db.write() as s:
                    reservations.consume(s, actor=SYSTEM, reservation_id=reservation)
            except DomainError as exc:
                assert exc.code in ("insufficient_sellable_stock", "reservation_not_active"), exc.code

        @rule(loc=st.integers(0, 1), product=st.integers(0, 1), quantity=st.integers(1, 10),
              reason=st.sampled_from(["damage", "theft", "expired", "found"]))
        def adjust(self, loc: int, product: int, quantity: int, reason: str) -> None:
            signed = quantity if reason == "found" else -quantity
            try:
                with db.write() as s:
                    service.adjust(s, actor=SYSTEM, location_id=self.locations[loc], sku=self.skus[product],
                                   quantity=signed, reason=reason)
            except DomainError as exc:
                assert exc.code in ("stock_reserved", "not_enough_on_hand", "lot_required"), exc.code

        @rule(loc=st.integers(0, 1), product=st.integers(0, 1), counted=st.integers(0, 30))
        def count(self, loc: int, product: int, counted: int) -> None:
            try:
                with db.write() as s:
                    _, lines = service.count(s, actor=SYSTEM, location_id=self.locations[loc],
                                             lines=[(self.skus[product], counted, None)])
                assert lines[0].counted == counted
            except DomainError as exc:
                assert exc.code in ("stock_reserved", "lot_required"), exc.code

        @rule(loc=st.integers(0, 1), product=st.integers(0, 1), quantity=st.integers(1, 8),
              picked=st.integers(0, 8), received=st.integers(0, 9), close=st.booleans())
        def transfer(self, loc: int, product: int, quantity: int, picked: int, received: int, close: bool) -> None:
            source, target, sku = self.locations[loc], self.locations[1 - loc], self.skus[product]
            try:
                with db.write() as s:
                    transfer_id = transfers.request(s, actor=SYSTEM, from_location_id=source, to_location_id=target,
                                                    lines=[(sku, quantity)]).id
            except DomainError as exc:
                assert exc.code == "insufficient_stock", exc.code
                return
            with db.write() as s:
                transfers.pick(s, actor=SYSTEM, transfer_id=transfer_id, picked={sku: min(picked, quantity)})
            self.invariant_now()
            try:
                with db.write() as s:
                    transfers.ship(s, actor=SYSTEM, transfer_id=transfer_id)
            except DomainError as exc:
                assert exc.code == "insufficient_sellable_stock", exc.code
                with db.write() as s:
                    transfers.cancel(s, actor=SYSTEM, transfer_id=transfer_id)
                return
            self.invariant_now()
            try:
                with db.write() as s:
                    transfers.receive(s, actor=SYSTEM, transfer_id=transfer_id, received={sku: received}, close=close)
            except DomainError as exc:
                assert exc.code == "more_than_shipped", exc.code

        def invariant_now(self) -> None:
            with db.read() as s:
                assert stock_violations(s) == []

        @rule(days=st.integers(1, 15))
        def days_pass(self, days: int) -> None:
            clock._offset += timedelta(days=days)

        @rule()
        def sweep(self) -> None:
            with db.write() as s:
                service.sweep_expired(s, actor=SYSTEM)
                reservations.release_expired_holds(s, actor=SYSTEM)

        @invariant()
        def stock_is_consistent(self) -> None:
            with db.read() as s:
                assert stock_violations(s) == []

        def teardown(self) -> None:
            clock._offset = timedelta(0)

    return StockMachine


def test_random_stock_histories_keep_every_invariant(db):
    run_state_machine_as_test(make_machine(db), settings=settings(
        max_examples=30, stateful_step_count=30, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
