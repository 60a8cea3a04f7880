"""Bid prices for live deliveries: computed by the worker, read by the default policy.

Every `OMNIRETAIL_BID_PRICE_MINUTES` the worker (`compute`) takes the delivery orders of the last
`OMNIRETAIL_BID_PRICE_HISTORY_DAYS` days as the forecast (units per SKU and destination, 0.1 degree), scaled to
the hours left in the (UTC) day, and solves the fluid LP of `sourcing.bidprice` over the network as the
database shows it now (what each location may still promise, the units it may still send out today), averaged
over `OMNIRETAIL_BID_PRICE_SCENARIOS` demand draws. The prices above zero replace the last run's in one
transaction (`bid_prices`), with a `bid_price_runs` row and an audit entry; a run with no delivery history, or an
LP HiGHS does not solve, leaves no prices (the policy then chooses by cost alone) and says why in its run.

The default policy of a live delivery (`sourcing.service.source_delivery`) reads the prices through a per-process
cache (`current`), reloaded when older than `CACHE_SECONDS`: one small read every half minute, never one per
order. `OMNIRETAIL_BID_PRICES=0` turns their use off; `greedy`, `most_lines` and `optimal` never take them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from omniretail.catalog.models import Product
from omniretail.core import audit
from omniretail.core.clock import as_utc, utcnow
from omniretail.core.config import Settings, get_settings
from omniretail.core.db import Database
from omniretail.core.jobs import register_job
from omniretail.core.security import SYSTEM
from omniretail.orders.models import Order, OrderItem
from omniretail.sourcing import model
from omniretail.sourcing.bidprice import FluidLP, Forecast, aggregate
from omniretail.sourcing.cost import CostModel
from omniretail.sourcing.model import Network
from omniretail.sourcing.models import BidPrice, BidPriceRun

CACHE_SECONDS = 30.0
EVERY_SECONDS = 60.0  # the job looks this often; it computes when the last run is OMNIRETAIL_BID_PRICE_MINUTES old
LOCK = 0x6F6D6270  # advisory lock of the job's write on PostgreSQL ("ombp"): runs are written one at a time
MIN_HORIZON_HOURS = 1.0


@dataclass(frozen=True)
class LivePrices:
    """The stored prices by location id: per (location, SKU) for stock, per location for picking capacity."""

    stock: dict[tuple[str, str], float] = field(default_factory=dict)
    capacity: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.stock or self.capacity)

    def bind(self, network: Network) -> _Bound | None:
        """The prices by position in `network`, as `sourcing.heuristic` reads them; None when none apply."""
        ids = [location.id for location in network.locations]
        if not any(i in self.capacity for i in ids) and not any(key[0] in ids for key in self.stock):
            return None
        return _Bound(ids, self)


@dataclass(frozen=True)
class _Bound:
    ids: list[str]
    prices: LivePrices

    def of(self, origin: int, sku: str) -> float:
        location = self.ids[origin]
        return self.prices.capacity.get(location, 0.0) + self.prices.stock.get((location, sku), 0.0)


def load(session: Session) -> LivePrices:
    """The prices as stored."""
    stock: dict[tuple[str, str], float] = {}
    capacity: dict[str, float] = {}
    for row in session.execute(select(BidPrice.location_id, BidPrice.resource, BidPrice.sku, BidPrice.price)):
        if row.resource == "capacity":
            capacity[row.location_id] = row.price
        else:
            stock[(row.location_id, row.sku)] = row.price
    return LivePrices(stock, capacity)


class _Cache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.loaded: dict[str, tuple[float, LivePrices]] = {}  # database URL -> (when loaded, prices)
        self.reloading: set[str] = set()

    def fresh(self, key: str) -> LivePrices | None:
        with self.lock:
            found = self.loaded.get(key)
        return found[1] if found is not None and self.clock() - found[0] < CACHE_SECONDS else None

    def previous(self, key: str) -> LivePrices | None:
        """The stale prices while another caller reloads them; None when this caller should reload (it then
        holds the reload until `done`) or nothing was ever loaded."""
        with self.lock:
            found = self.loaded.get(key)
            if found is None or key in self.reloading:
                return None if found is None else found[1]
            self.reloading.add(key)
            return None

    def done(self, key: str) -> None:
        with self.lock:
            self.reloading.discard(key)

    def get(self, session: Session) -> LivePrices:
        key = str(session.get_bind().engine.url)
        found = self.fresh(key)
        if found is not None:
            return found
        began = self.clock()
        prices = load(session)
        with self.lock:
            self.loaded[key] = (began, prices)
        return prices

    def reload(self, db: Database) -> LivePrices:
        with db.read() as session:
            return self.get(session)

    def clear(self) -> None:
        with self.lock:
            self.loaded.clear()
            self.reloading.clear()


CACHE = _Cache()


def current(session: Session, settings: Settings | None = None) -> LivePrices | None:
    """The prices live deliveries choose with (cached per process), or None when their use is off."""
    if not (settings or get_settings()).bid_prices:
        return None
    return CACHE.get(session)


async def current_async(db: Database, settings: Settings) -> LivePrices | None:
    """As `current`, for the event loop: a stale cache is reloaded in a thread."""
    if not settings.bid_prices:
        return None
    key = str(db.engine.url)
    found = CACHE.fresh(key)
    if found is not None:
        return found
    previous = CACHE.previous(key)  # another order is reloading them: go on with the last ones meanwhile
    if previous is not None:
        return previous
    try:
        return await asyncio.to_thread(CACHE.reload, db)
    finally:
        CACHE.done(key)


def history(session: Session, since: datetime) -> Forecast:
    """Delivery orders placed since `since` (cancelled ones included: they were demand), as a forecast."""
    from omniretail.orders.placement import destination

    rows = session.execute(select(Order.id, Order.delivery_address, OrderItem.sku, OrderItem.quantity)
                           .join(OrderItem, OrderItem.order_id == Order.id)
                           .where(Order.fulfilment_type == "delivery", Order.created_at >= since))
    lines: dict[int, list[tuple[str, int]]] = {}
    places: dict[int, tuple[float, float] | None] = {}
    for row in rows:
        lines.setdefault(row.id, []).append((row.sku, row.quantity))
        if row.id not in places:
            places[row.id] = destination(row.delivery_address or {})
    placed = [model.Order.of(str(i), found, lat=point[0], lon=point[1]) for i, found in lines.items()
              if (point := places[i]) is not None]
    # every order counts towards the horizon, those without a place on the map too
    return replace(aggregate(placed, source=f"delivery orders since {since.isoformat()}"), orders=len(lines))


def network_now(session: Session, skus: set[str], at: datetime) -> Network:
    """Every location that sends deliveries, with what it may still promise of `skus` and send out today."""
    from omniretail.orders.placement import candidate_rows
    from omniretail.sourcing.service import network_of

    ids = {row.id: row.sku for row in session.execute(select(Product.id, Product.sku)
                                                      .where(Product.sku.in_(sorted(skus))))}
    return network_of(candidate_rows(session, ids, at=at), ids)


def _horizon_hours(at: datetime) -> float:
    midnight = datetime(at.year, at.month, at.day, tzinfo=at.tzinfo) + timedelta(days=1)
    return max(MIN_HORIZON_HOURS, (midnight - at).total_seconds() / 3600)


def compute(db: Database, *, settings: Settings | None = None, at: datetime | None = None) -> int:
    """One run of the job: returns how many prices it stored. The history is read and the LP solved outside any
    write; the prices then replace the last run's in one short transaction (on PostgreSQL under an advisory lock,
    so two workers' runs are written one after the other)."""
    settings = settings or get_settings()
    at = at or utcnow()
    began = time.perf_counter()
    days = settings.bid_price_history_days
    horizon = _horizon_hours(at)
    status, stock, capacity, locations = "no delivery orders in the history", {}, {}, 0
    with db.read() as session:
        forecast = history(session, at - timedelta(days=days))
        network = network_now(session, {sku for _, _, sku, _ in forecast.demand}, at) if forecast.demand else None
    if forecast.orders and not forecast.demand:
        status = "no delivery order in the history has a place on the map"
    if network is not None:
        locations = len(network.locations)
        if locations:
            cost = CostModel.from_dict(settings.sourcing_cost_overrides())
            prices = FluidLP(network, forecast, cost).prices(network, horizon / (days * 24),
                                                             scenarios=settings.bid_price_scenarios,
                                                             rng=np.random.default_rng(0))
            status = prices.status
            ids = [location.id for location in network.locations]
            stock = {(ids[o], sku): round(v, 6) for o, by_sku in enumerate(prices.stock) for sku, v in by_sku.items()}
            capacity = {ids[o]: round(v, 6) for o, v in enumerate(prices.capacity)}
        else:
            status = "no location can send the SKUs in the history"
    rows: list[dict[str, Any]] = (
        [{"location_id": loc, "resource": "stock", "sku": sku, "price": v, "computed_at": at}
         for (loc, sku), v in sorted(stock.items()) if v > 0]
        + [{"location_id": loc, "resource": "capacity", "sku": "", "price": v, "computed_at": at}
           for loc, v in sorted(capacity.items()) if v > 0])
    with db.write() as session:
        if db.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK})
        session.execute(delete(BidPrice))
        if rows:
            session.execute(insert(BidPrice), rows)
        run = BidPriceRun(computed_at=at, status=status[:80], history_days=days, horizon_hours=round(horizon, 3),
                          history_orders=forecast.orders, forecast_units=round(forecast.units, 3),
                          scenarios=settings.bid_price_scenarios, locations=locations,
                          stock_prices=sum(1 for r in rows if r["resource"] == "stock"),
                          capacity_prices=sum(1 for r in rows if r["resource"] == "capacity"),
                          seconds=round(time.perf_counter() - began, 3))
        session.add(run)
        session.flush()
        audit.record(session, SYSTEM, "bid_prices.computed", "bid_prices", str(run.id),
                     {"status": run.status, "history_orders": run.history_orders, "stock_prices": run.stock_prices,
                      "capacity_prices": run.capacity_prices})
    CACHE.clear()
    return len(rows)


def last_run(session: Session) -> BidPriceRun | None:
    return session.scalars(select(BidPriceRun).order_by(BidPriceRun.id.desc()).limit(1)).first()


def listing(session: Session, *, location_id: str | None = None,
            limit: int = 100) -> tuple[dict[str, Any] | None, list[BidPrice]]:
    """The last run (as a dict) and the stored prices, dearest first."""
    run = last_run(session)
    query = select(BidPrice)
    if location_id is not None:
        query = query.where(BidPrice.location_id == location_id)
    rows = list(session.scalars(query.order_by(BidPrice.price.desc(), BidPrice.location_id, BidPrice.sku)
                                .limit(limit)))
    if run is None:
        return None, rows
    return {"id": run.id, "computed_at": as_utc(run.computed_at).isoformat(), "status": run.status,
            "history_days": run.history_days, "horizon_hours": run.horizon_hours,
            "history_orders": run.history_orders, "forecast_units": run.forecast_units, "scenarios": run.scenarios,
            "locations": run.locations, "stock_prices": run.stock_prices, "capacity_prices": run.capacity_prices,
            "seconds": run.seconds}, rows


def _job(db: Database) -> int:
    """Compute when the last run (by any worker) is older than the setting."""
    settings = get_settings()
    with db.read() as session:
        last = last_run(session)
    if last is not None and utcnow() - as_utc(last.computed_at) < timedelta(minutes=settings.bid_price_minutes):
        return 0
    return compute(db, settings=settings)


register_job("sourcing.bid_prices", _job, every_seconds=EVERY_SECONDS)
