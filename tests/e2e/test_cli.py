"""The `omniretail` command as an operator runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select

from omniretail.catalog.models import Product, ProductTerm
from omniretail.core import migrate
from omniretail.locations.models import Location
from tests.helpers import served

KEY = re.compile(r"^omr_[A-Za-z0-9_-]{43}$")


def cli(*args: str, url: str, secret: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIRETAIL_")}
    env["OMNIRETAIL_DATABASE_URL"] = url
    env["COLUMNS"] = "200"
    if secret is not None:
        env["OMNIRETAIL_SECRET_KEY"] = secret
    return subprocess.run([sys.executable, "-m", "omniretail.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_db_upgrade_migrates_a_new_sqlite_file_and_is_repeatable(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    first = cli("db", "upgrade", url=url)
    assert first.returncode == 0, first.stderr
    head = migrate.head_revision()
    assert f"database at revision {head}" in first.stdout
    assert cli("db", "upgrade", url=url).returncode == 0
    assert f"current {head}, head {head}" in cli("db", "current", url=url).stdout


def test_keys_create_prints_the_key_alone_and_it_authenticates(db, client):
    result = cli("keys", "create", "--role", "operations", "--name", "ops desk", url=db.url)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert KEY.match(key) and result.stdout == key + "\n"
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_keys_create_refuses_a_scope_that_does_not_fit_the_role(db):
    result = cli("keys", "create", "--role", "associate", url=db.url)
    assert result.returncode == 2 and result.stdout == ""
    assert "bound to at least one location" in result.stderr
    result = cli("keys", "create", "--role", "wizard", url=db.url)
    assert result.returncode == 2 and "unknown role" in result.stderr


def test_import_loads_good_rows_reports_bad_ones_and_exits_non_zero(db, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("sku,ean,name,price\nA1,4006381333931,Milk,1.00\nA2,4006381333932,Bad,1.00\nA3,,Bread,2.50\n")
    result = cli("import", "products", str(path), url=db.url)
    assert result.returncode == 1
    assert f"{path}:3: " in result.stderr and "invalid_ean" in result.stderr
    assert "3 rows: 2 created, 0 updated, 0 unchanged, 1 refused" in result.stdout
    with db.read() as s:
        assert sorted(s.scalars(select(Product.sku))) == ["A1", "A3"]


def test_import_with_a_wrong_header_loads_nothing(db, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("sku,title,price\nA1,Milk,1.00\n")
    result = cli("import", "products", str(path), url=db.url)
    assert result.returncode == 2
    assert "nothing loaded" in result.stderr and "missing required column(s): name" in result.stderr
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 0


def test_exported_products_and_locations_import_back_unchanged(db, tmp_path):
    products = tmp_path / "p.csv"
    products.write_text("sku,ean,name,brand,price,perishable\nA1,4006381333931,Milk,Alpenhof,1.00,true\n")
    locations = tmp_path / "l.csv"
    locations.write_text("id,name,type,lat,lon,timezone,pickup,opening_hours\n"
                         "berlin,Store Berlin,store,52.52,13.40,Europe/Berlin,true,mon-sat 08:00-20:00\n"
                         ",Warehouse Kassel,warehouse,51.31,9.49,Europe/Berlin,false,\n")
    assert cli("import", "products", str(products), url=db.url).returncode == 0
    result = cli("import", "locations", str(locations), url=db.url)
    assert result.returncode == 0, result.stderr + result.stdout
    for kind in ("products", "locations"):
        exported = cli("export", kind, url=db.url)
        assert exported.returncode == 0
        again = tmp_path / f"{kind}-again.csv"
        again.write_text(exported.stdout)
        result = cli("import", kind, str(again), url=db.url)
        assert result.returncode == 0, result.stderr
        assert "0 created, 0 updated" in result.stdout and "0 refused" in result.stdout
    with db.read() as s:
        assert sorted(s.scalars(select(Location.id))) == ["berlin", "warehouse-kassel"]


def test_check_passes_on_consistent_data_and_fails_on_a_broken_index(db, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("sku,name,price\nA1,Alpine Milk,1.00\nA2,Rye Bread,2.00\n")
    cli("import", "products", str(path), url=db.url)
    ok = cli("check", url=db.url)
    assert ok.returncode == 0 and "FAIL" not in ok.stdout
    with db.write() as s:
        s.execute(delete(ProductTerm).where(ProductTerm.term == "rye"))
    broken = cli("check", url=db.url)
    assert broken.returncode == 1
    assert "FAIL search index: 1 product(s) indexed wrongly, e.g. A2" in broken.stdout


@pytest.mark.parametrize("secret", [None, "changeme", "short-secret"])
def test_serve_refuses_to_start_without_a_real_secret(tmp_path, secret):
    result = cli("serve", url=f"sqlite:///{tmp_path / 'x.db'}", secret=secret)
    assert result.returncode == 2
    assert "refusing to start" in result.stderr


@pytest.mark.parametrize("command", [("keys", "create", "--role", "admin"), ("worker",),
                                     ("fulfilment", "release"), ("sourcing", "rebatch", "--dry-run"),
                                     ("sourcing", "bid-prices")])
def test_a_command_on_an_unmigrated_database_says_what_to_do(tmp_path, command):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = cli(*command, url=url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is at migration none (empty)" in result.stderr and "omniretail db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_bid_prices_are_shown_and_computed_from_the_command_line(db):
    before = cli("sourcing", "bid-prices", url=db.url)
    assert before.returncode == 0, before.stderr
    assert "no bid prices computed yet" in before.stdout
    ran = cli("sourcing", "bid-prices", "--compute", url=db.url)
    assert ran.returncode == 0, ran.stderr
    assert "0 bid price(s) stored" in ran.stdout
    assert "no delivery orders in the history; 0 delivery order(s) of the last 7 day(s)" in ran.stdout


def test_a_command_on_a_database_it_cannot_reach_says_so():
    result = cli("keys", "create", "--role", "admin", url="postgresql://postgres@127.0.0.1:1/nowhere")
    assert result.returncode == 2
    assert "cannot reach the database" in result.stderr and "Traceback" not in result.stderr


def test_a_key_made_by_the_cli_works_against_a_served_database(db):
    key = cli("keys", "create", "--role", "admin", url=db.url).stdout.strip()
    with served(db.url) as base:
        response = httpx.post(f"{base}/api/v1/products", headers={"Authorization": f"Bearer {key}"},
                              json={"sku": "S1", "name": "Served", "price": {"amount": "1.00", "currency": "EUR"}})
        assert response.status_code == 201
        assert httpx.get(f"{base}/api/v1/products/S1").status_code == 401


def test_serve_with_two_worker_processes_answers_on_one_port(db):
    key = cli("keys", "create", "--role", "admin", url=db.url).stdout.strip()
    with served(db.url, "--workers", "2") as base:
        headers = {"Authorization": f"Bearer {key}"}
        made = httpx.post(f"{base}/api/v1/products", headers=headers,
                          json={"sku": "W1", "name": "Workers", "price": {"amount": "1.00", "currency": "EUR"}})
        answers = [httpx.get(f"{base}/api/v1/products/W1", headers=headers) for _ in range(20)]

    assert made.status_code == 201
    assert {(r.status_code, r.json()["sku"]) for r in answers} == {(200, "W1")}


def test_demo_builds_a_realistic_retailer_and_prints_url_and_key(tmp_path):
    database = tmp_path / "demo.db"
    result = cli("demo", "--no-serve", "--database", str(database), "--port", "8111", url="sqlite:///unused.db",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:8111/" in result.stdout
    assert KEY.match(re.search(r"Admin key: (\S+)", result.stdout).group(1))
    assert "24 stores in real cities, 2 warehouses, 2 hubs" in result.stderr
    assert "1500 products" in result.stderr
    assert "SKU assortments received in lots" in result.stderr
    check = cli("check", url=f"sqlite:///{database}")
    assert check.returncode == 0, check.stdout
    again = cli("demo", "--no-serve", "--database", str(database), url="sqlite:///unused.db", cwd=tmp_path)
    assert "reusing the demo data" in again.stderr


def test_stock_export_imports_back_unchanged_and_bad_rows_are_reported(db, tmp_path):
    setup = tmp_path / "setup.csv"
    setup.write_text("sku,name,price,perishable\nMILK,Milk,1.00,true\nSOAP,Soap,2.00,false\n")
    cli("import", "products", str(setup), url=db.url)
    places = tmp_path / "places.csv"
    places.write_text("id,name,type,lat,lon\ns1,Store,store,52.5,13.4\n")
    cli("import", "locations", str(places), url=db.url)
    stock = tmp_path / "stock.csv"
    stock.write_text("location_id,sku,lot,quantity,production_date,expiry_date\n"
                     "s1,MILK,M1,12,2026-11-01,2099-12-31\n"
                     "s1,SOAP,S1,30,,\n"
                     "s1,MILK,M2,5,,\n"
                     "s1,NOPE,X,1,,\n"
                     "s1,SOAP,S2,-4,,\n")
    result = cli("import", "stock", str(stock), url=db.url)
    assert result.returncode == 1
    assert [line.split(": ")[0] for line in result.stderr.splitlines() if line.startswith(str(stock))] == [
        f"{stock}:4", f"{stock}:5", f"{stock}:6"]
    assert "2 created" in result.stdout
    exported = cli("export", "stock", url=db.url)
    assert exported.stdout.splitlines() == ["location_id,sku,lot,quantity,production_date,expiry_date",
                                            "s1,MILK,M1,12,2026-11-01,2099-12-31", "s1,SOAP,S1,30,,"]
    again = tmp_path / "again.csv"
    again.write_text(exported.stdout.replace("s1,SOAP,S1,30", "s1,SOAP,S1,25"))
    result = cli("import", "stock", str(again), url=db.url)
    assert "0 created, 1 updated, 1 unchanged, 0 refused" in result.stdout
    assert cli("check", url=db.url).returncode == 0
