"""`omniretail bench catalog`: CSV import speed, EAN lookup and typo-tolerant name search latency.

Targets (issue 2): with 100,000 products, name search p95 < 20 ms and EAN lookup p95 < 2 ms
through the HTTP API; CSV import of 100,000 products < 60 s. Requests are sent one at a
time over a keep-alive connection to a uvicorn server in its own process, so the figures
are latencies as one till or web shop sees them.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from omniretail.bench.common import ApiClient, api_server, machine, percentiles, throwaway_database, write_json
from omniretail.catalog.importer import COLUMNS, ProductImport
from omniretail.core import csvio, migrate
from omniretail.core.db import Database
from omniretail.core.security import SYSTEM, Role
from omniretail.demo.products import GeneratedProduct, generate_products
from omniretail.keys import service as keys

WARMUP = 50


def typo(word: str, rng: random.Random) -> str:
    """One edit: substitute, delete, insert or swap adjacent letters."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("substitute", "delete", "insert", "transpose"))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz".replace(word[i], ""))
    if kind == "substitute":
        return word[:i] + letter + word[i + 1:]
    if kind == "delete":
        return word[:i] + word[i + 1:]
    if kind == "insert":
        return word[:i] + letter + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def misspell(words: list[str], rng: random.Random) -> str:
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if candidates:
        i = rng.choice(candidates)
        words = words[:i] + [typo(words[i], rng)] + words[i + 1:]
    return " ".join(words)


def _timed(client: ApiClient, path: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    body = client.get(path, params)
    return time.perf_counter() - start, body


def _import(db: Database, products: list[GeneratedProduct], folder: Path, console: Console) -> dict[str, Any]:
    path = folder / "products.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(p.csv_row() for p in products)
    with Progress(TextColumn("import"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("rows", total=len(products))
        start = time.perf_counter()
        report = csvio.import_csv(db, path, ProductImport(actor=SYSTEM, default_currency="EUR"),
                                  progress=lambda n: bar.advance(task, n))
        seconds = time.perf_counter() - start
    if report.errors or report.created != len(products):
        raise RuntimeError(f"import refused rows: {report.errors[:5]}")
    return {"rows": report.rows, "seconds": round(seconds, 2), "rows_per_s": round(report.rows / seconds)}


def run_catalog_bench(*, products: int, database: str | None, requests: int, output: Path,
                      console: Console) -> dict[str, Any]:
    rng = random.Random(42)
    generated = list(generate_products(products))
    sellable = [p for p in generated if not p.is_gift]
    with throwaway_database(database) as url, tempfile.TemporaryDirectory() as folder:
        db = Database(url)
        backend = db.dialect
        migrate.upgrade(db)
        console.print(f"catalog benchmark on {backend}: {products:,} products, {requests:,} requests per operation")
        imported = _import(db, generated, Path(folder), console)
        with db.write() as s:
            _, key = keys.create_key(s, actor=SYSTEM, role=Role.ADMIN, name="bench")
        db.dispose()

        sample = [rng.choice(sellable) for _ in range(requests + WARMUP)]
        results: dict[str, Any] = {}
        with api_server(url) as base, ApiClient(base, key) as client:
            ean_times, ean_found = [], 0
            for i, p in enumerate(sample):
                elapsed, body = _timed(client, "/api/v1/products", {"q": p.ean})
                if i >= WARMUP:
                    ean_times.append(elapsed)
                    ean_found += bool(body["items"]) and body["items"][0]["sku"] == p.sku
            results["ean_lookup"] = {**percentiles(ean_times), "found_rate": round(ean_found / requests, 4)}

            full_times, hit1, hit10 = [], 0, 0
            for i, p in enumerate(sample):
                elapsed, body = _timed(client, "/api/v1/products",
                                       {"q": misspell(p.name.split(), rng), "limit": 10})
                if i >= WARMUP:
                    full_times.append(elapsed)
                    skus = [item["sku"] for item in body["items"]]
                    hit1 += bool(skus) and skus[0] == p.sku
                    hit10 += p.sku in skus
            results["name_search_full_name_one_typo"] = {**percentiles(full_times),
                                                          "hit_at_1": round(hit1 / requests, 4),
                                                          "hit_at_10": round(hit10 / requests, 4)}

            short_times, nonempty = [], 0
            for i, p in enumerate(sample):
                words = [p.brand.split()[0], *p.product_type.split()]
                elapsed, body = _timed(client, "/api/v1/products", {"q": misspell(words, rng), "limit": 20})
                if i >= WARMUP:
                    short_times.append(elapsed)
                    nonempty += bool(body["items"])
            results["name_search_brand_and_type_one_typo"] = {**percentiles(short_times),
                                                               "non_empty_rate": round(nonempty / requests, 4)}

            broad_times = []
            for i, p in enumerate(sample):
                word = rng.choice([w for w in p.product_type.split() if len(w) >= 5] or [p.product_type])
                elapsed, _ = _timed(client, "/api/v1/products", {"q": misspell([word], rng), "limit": 20})
                if i >= WARMUP:
                    broad_times.append(elapsed)
            results["name_search_single_word_one_typo"] = percentiles(broad_times)

            sku_times = []
            for i, p in enumerate(sample):
                elapsed, _ = _timed(client, f"/api/v1/products/{p.sku}", {})
                if i >= WARMUP:
                    sku_times.append(elapsed)
            results["get_by_sku"] = percentiles(sku_times)

    result = {"benchmark": "catalog", "backend": backend, "products": products, "requests": requests,
              "import": imported, **results, "targets": {"name_search_p95_ms": 20, "ean_lookup_p95_ms": 2,
                                                         "import_100k_s": 60},
              "machine": machine()}
    _print(result, console)
    write_json(output, result)
    console.print(f"written to {output}")
    return result


def _print(result: dict[str, Any], console: Console) -> None:
    table = Table("operation", "p50 ms", "p95 ms", "p99 ms", "max ms", "quality",
                  title=f"catalog on {result['backend']}, {result['products']:,} products")
    for name, quality_key in (("ean_lookup", "found_rate"), ("get_by_sku", None),
                              ("name_search_full_name_one_typo", "hit_at_1"),
                              ("name_search_brand_and_type_one_typo", "non_empty_rate"),
                              ("name_search_single_word_one_typo", None)):
        row = result[name]
        quality = f"{quality_key} {row[quality_key]}" if quality_key else ""
        table.add_row(name, str(row["p50_ms"]), str(row["p95_ms"]), str(row["p99_ms"]), str(row["max_ms"]), quality)
    console.print(table)
    imp = result["import"]
    console.print(f"CSV import: {imp['rows']:,} rows in {imp['seconds']} s ({imp['rows_per_s']:,} rows/s)")
