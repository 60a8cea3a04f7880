"""`omniretail bench orders`: order placement through the HTTP API against pgbench, and a hot-SKU sell-out.

Target (issue 5), PostgreSQL on 2 cores: at least 1,000 orders/s, or at least 20% of pgbench's TPC-B-like
rate in the same run, with 64 concurrent clients posting orders through uvicorn (inspection, reservation and
outbox included); and a run where every order wants the same hot SKU ends with zero oversold units and every
refused order told `insufficient_stock`.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text

from omniretail.bench.common import api_server, machine, percentiles, pgbench, throwaway_database, write_json
from omniretail.catalog.models import Product
from omniretail.core import migrate
from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.security import SYSTEM, Role
from omniretail.customers.models import Profile
from omniretail.inventory.invariants import stock_violations
from omniretail.inventory.models import StockLevel
from omniretail.keys import service as keys
from omniretail.locations.models import Location
from omniretail.orders.invariants import order_violations

CHANNELS = ("web", "app", "marketplace")
HOT_STORE, HOT_SKU = "hot-store", "HOT-1"
STOCK_PER_LEVEL = 100_000
# Units a store may send out for delivery a day: counted for every delivery, as in production, but more than a run
# sends, so the figures are order placement, not a full day (a full store is passed over; tests cover that).
DAILY_CAPACITY = 100_000
PGBENCH_CLIENTS = 8
DELIVERY_SHARE = 0.3
WARMUP_SECONDS = 2.0
ADDRESS = {"line1": "Lindenstraße 5", "city": "Kassel", "postcode": "34117", "country": "DE",
           "phone": "+49 170 1234567"}


def _seed(db: Database, *, locations: int, skus: int, customers: int, hot_units: int,
          rng: random.Random) -> tuple[list[str], list[str], list[int]]:
    """Stores stocking every SKU deeply, one hot store with `hot_units` of one SKU, and customers (inserted with
    the models' defaults); levels, lots and their receipts in the ledger are generated inside the database."""
    now = utcnow()
    with db.write() as s:
        s.execute(Product.__table__.insert(), [
            {"sku": f"SKU-{n:06d}", "name": f"Bench product {n}", "price_minor": rng.randint(99, 4999),
             "currency": "EUR", "created_at": now, "updated_at": now} for n in range(skus)]
            + [{"sku": HOT_SKU, "name": "The hot product", "price_minor": 1999, "currency": "EUR", "created_at": now,
                "updated_at": now}])
        rows = [{"id": f"store-{n:04d}", "name": f"Store {n}", "type": "store", "lat": round(rng.uniform(47, 55), 5),
                 "lon": round(rng.uniform(6, 15), 5), "timezone": "Europe/Berlin", "pickup": True,
                 "ship_from_store": True, "daily_capacity": DAILY_CAPACITY, "safety_stock": 0, "opening_hours": {},
                 "active": True, "created_at": now, "updated_at": now} for n in range(locations)]
        rows.append({**rows[0], "id": HOT_STORE, "name": "Hot store", "ship_from_store": False})
        s.execute(Location.__table__.insert(), rows)
        s.execute(Profile.__table__.insert(), [{"status": "active", "given_name": f"Bench {n}", "created_at": now,
                                            "updated_at": now} for n in range(customers)])
    postgres = db.dialect == "postgresql"
    clock_now, false = ("now()", "false") if postgres else ("CURRENT_TIMESTAMP", "0")
    with db.write() as s:
        s.execute(text(f"""
            INSERT INTO stock_levels (location_id, product_id, on_hand, reserved, expired, inbound, safety_stock,
                                      next_expiry, low, updated_at)
            SELECT l.id, p.id, CASE WHEN p.sku = :hot THEN :hot_units ELSE :units END, 0, 0, 0, NULL, NULL, {false},
                   {clock_now}
            FROM locations l CROSS JOIN products p
            WHERE (l.id = :hot_store) = (p.sku = :hot)"""),
                  {"hot": HOT_SKU, "hot_units": hot_units, "units": STOCK_PER_LEVEL, "hot_store": HOT_STORE})
        s.execute(text(f"""
            INSERT INTO stock_lots (location_id, product_id, lot_code, quantity, production_date, expiry_date,
                                    expired, received_at)
            SELECT location_id, product_id, 'B1', on_hand, NULL, NULL, {false}, {clock_now} FROM stock_levels"""))
        s.execute(text(f"""
            INSERT INTO stock_ledger (at, location_id, product_id, lot_id, delta, kind, actor)
            SELECT {clock_now}, location_id, product_id, id, quantity, 'receipt', 'bench' FROM stock_lots"""))
        ids = list(s.scalars(text("SELECT id FROM customers ORDER BY id")))
    db.analyze(["products", "locations", "customers", "stock_levels", "stock_lots", "stock_ledger"])
    return [r["id"] for r in rows[:-1]], [f"SKU-{n:06d}" for n in range(skus)], ids


class _Client:
    """One keep-alive HTTP/1.1 connection (stdlib), so the figures are the server's, not a client library's."""

    def __init__(self, base_url: str, key: str) -> None:
        parsed = urlsplit(base_url)
        self._conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=60)
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict[str, Any], idempotency_key: str) -> tuple[int, Any]:
        self._conn.request("POST", path, body=json.dumps(body).encode(),
                           headers={**self._headers, "Idempotency-Key": idempotency_key})
        response = self._conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def close(self) -> None:
        self._conn.close()


def _run(base: str, channel_keys: dict[str, str], clients: int, seconds: float, make_body: Any, seed: int,
         warmup: float) -> dict[str, Any]:
    """`clients` threads post orders for `seconds` (after `warmup` seconds not measured); answers counted by
    status and code (a placed order by the status inspection gave it); units accepted counted over the whole
    run, warm-up included, so they can be held against the stock."""
    stop_at = time.perf_counter() + warmup + seconds
    measure_from = time.perf_counter() + warmup
    lock = threading.Lock()
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    units_accepted = [0]

    def worker(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        channel = CHANNELS[n % len(CHANNELS)]
        client = _Client(base, channel_keys[channel])
        mine: list[float] = []
        counted: dict[str, int] = {}
        units = 0
        try:
            i = 0
            while (started := time.perf_counter()) < stop_at:
                i += 1
                body = make_body(rng, channel)
                try:
                    status, answer = client.post("/api/v1/orders", body, f"bench-{seed}-{n}-{i}")
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    status, answer = 599, {"code": type(exc).__name__}
                if status == 201:
                    units += sum(line["quantity"] for line in body["lines"])
                if started < measure_from:
                    continue
                mine.append(time.perf_counter() - started)
                outcome = f"201 {answer['status']}" if status == 201 else f"{status} {(answer or {}).get('code')}"
                counted[outcome] = counted.get(outcome, 0) + 1
        finally:
            client.close()
        with lock:
            latencies.extend(mine)
            for outcome, count in counted.items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
            units_accepted[0] += units

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    placed = sum(n for outcome, n in outcomes.items() if outcome.startswith("201"))
    answered = sum(outcomes.values())
    return {"clients": clients, "seconds": seconds, "warmup_seconds": warmup, "placed": placed,
            "orders_per_s": round(placed / seconds, 1), "answers_per_s": round(answered / seconds, 1),
            "answers": dict(sorted(outcomes.items())), "units_accepted": units_accepted[0],
            "latency": percentiles(latencies) if latencies else None}


def run_orders_bench(*, database: str | None, locations: int, skus: int, customers: int, clients: int,
                     seconds: int, hot_units: int, output: Any, console: Console,
                     server_workers: int = 1) -> dict[str, Any]:
    """Seed a network, serve it, measure order placement and the hot-SKU sell-out, compare with pgbench."""
    rng = random.Random(5)
    result: dict[str, Any] = {"benchmark": "orders", "locations": locations, "skus": skus, "customers": customers,
                              "clients": clients, "server_workers": server_workers, "delivery_share": DELIVERY_SHARE,
                              "idempotency_keys": True,
                              "machine": machine()}
    with throwaway_database(database) as url:
        db = Database(url)
        result["backend"] = db.dialect
        migrate.upgrade(db)
        console.print(f"orders benchmark on {db.dialect}: {locations} stores × {skus:,} SKUs, {customers:,} "
                      f"customers, {clients} clients")
        started = time.perf_counter()
        stores, products, customer_ids = _seed(db, locations=locations, skus=skus, customers=customers,
                                               hot_units=hot_units, rng=rng)
        result["seed_seconds"] = round(time.perf_counter() - started, 1)
        with db.write() as s:
            channel_keys = {c: keys.create_key(s, actor=SYSTEM, role=Role.INTEGRATION, name=f"bench {c}",
                                               channel=c)[1] for c in CHANNELS}
        db.dispose()

        def uniform(r: random.Random, channel: str) -> dict[str, Any]:
            lines = [{"sku": sku, "quantity": r.randint(1, 3)} for sku in r.sample(products, r.randint(1, 3))]
            fulfilment = {"type": "delivery", "address": ADDRESS} if r.random() < DELIVERY_SHARE else \
                {"type": "pickup", "location_id": r.choice(stores)}
            return {"channel": channel, "customer_id": r.choice(customer_ids), "lines": lines,
                    "fulfilment": fulfilment, "payment": {"status": "authorised", "method": "card"}}

        def hot(r: random.Random, channel: str) -> dict[str, Any]:
            return {"channel": channel, "customer_id": r.choice(customer_ids),
                    "lines": [{"sku": HOT_SKU, "quantity": 1}],
                    "fulfilment": {"type": "pickup", "location_id": HOT_STORE},
                    "payment": {"status": "authorised", "method": "card"}}

        with api_server(url, server_workers) as base:
            result["uniform"] = _run(base, channel_keys, clients, seconds, uniform, 1, WARMUP_SECONDS)
            console.print(f"uniform: {result['uniform']['orders_per_s']:,} orders/s")
            result["hot_sku"] = _run(base, channel_keys, clients, seconds, hot, 2, 0.0)
            console.print(f"hot SKU: {result['hot_sku']['answers_per_s']:,} answers/s, "
                          f"{result['hot_sku']['units_accepted']} of {hot_units} units sold")
        if db.dialect == "postgresql":
            result["pgbench"] = pgbench(url, PGBENCH_CLIENTS, seconds, console)
            for name in ("uniform", "hot_sku"):
                tps = result["pgbench"]["tps"]
                result[name]["ratio_to_pgbench"] = round(result[name]["orders_per_s"] / tps, 3) if tps else None
        db = Database(url)
        with db.read() as s:
            level = s.execute(select(StockLevel.reserved, StockLevel.on_hand)
                              .where(StockLevel.location_id == HOT_STORE)).one()
            hot_run = result["hot_sku"]
            refusals = {k: v for k, v in hot_run["answers"].items() if not k.startswith("201")}
            hot_run["units"] = hot_units
            hot_run["reserved"] = level.reserved
            hot_run["oversold_units"] = max(0, hot_run["units_accepted"] - hot_units, level.reserved - level.on_hand)
            hot_run["refused_all_insufficient_stock"] = set(refusals) <= {"409 insufficient_stock"}
            result["stock_violations"] = len(stock_violations(s)) if locations * skus <= 500_000 else None
            result["order_violations"] = len(order_violations(s))
        db.dispose()
    result["targets"] = {"orders_per_s": 1000, "ratio_to_pgbench": 0.2, "oversold_units": 0}
    _print(result, console)
    write_json(output, result)
    console.print(f"written to {output}")
    return result


def _print(result: dict[str, Any], console: Console) -> None:
    table = Table("measure", "value", title=f"orders on {result['backend']}, {result['clients']} clients")
    if "pgbench" in result:
        pgbench = result["pgbench"]
        table.add_row(f"pgbench TPC-B-like ({pgbench['clients']} clients)", f"{pgbench['tps']:,} tps")
    for name in ("uniform", "hot_sku"):
        row = result[name]
        ratio = f" ({row['ratio_to_pgbench']:.0%} of pgbench)" if row.get("ratio_to_pgbench") else ""
        table.add_row(f"orders/s, {name.replace('_', ' ')}", f"{row['orders_per_s']:,}{ratio} "
                      f"({row['answers_per_s']:,} answers/s)")
        if row["latency"]:
            table.add_row(f"latency p50 / p99, {name.replace('_', ' ')}",
                          f"{row['latency']['p50_ms']} / {row['latency']['p99_ms']} ms")
        table.add_row(f"answers, {name.replace('_', ' ')}", ", ".join(f"{n} × {k}" for k, n in row["answers"].items()))
    hot = result["hot_sku"]
    table.add_row("hot SKU: accepted units / stock", f"{hot['units_accepted']} / {hot['units']}")
    table.add_row("oversold units", str(hot["oversold_units"]))
    table.add_row("every refusal insufficient_stock", "yes" if hot["refused_all_insufficient_stock"] else "NO")
    table.add_row("stock / order violations", f"{result['stock_violations']} / {result['order_violations']}")
    console.print(table)
