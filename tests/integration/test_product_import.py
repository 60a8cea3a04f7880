"""CSV import of products: each row all-or-nothing, bad rows reported by line, bad header loads nothing."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from omniretail.catalog import service
from omniretail.catalog.importer import COLUMNS, ProductImport, export_rows
from omniretail.catalog.models import Product
from omniretail.core import csvio
from omniretail.core.models import AuditEntry, OutboxEvent
from omniretail.core.security import SYSTEM

HEADER = "sku,ean,name,brand,category,price,currency,is_gift,perishable\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "products.csv"
    path.write_text(text, encoding="utf-8")
    return path


def run(db, path, batch_size=1000):
    return csvio.import_csv(db, path, ProductImport(actor=SYSTEM, default_currency="EUR"), batch_size=batch_size)


def count(db, model=Product):
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_good_rows_load_and_each_bad_row_is_reported_with_its_line(db, tmp_path):
    path = write(tmp_path, HEADER +
                 "A1,4006381333931,Alpine Milk,Alpenhof,Dairy,1.29,EUR,false,true\n"
                 "A2,4006381333932,Bad Check Digit,,Dairy,1.00,EUR,false,false\n"
                 "A3,,Rye Bread,Kornfeld,Bakery,abc,EUR,false,true\n"
                 "A4,,,Kornfeld,Bakery,2.00,EUR,false,true\n"
                 "A5,,Gift Mug,,Gifts,0,EUR,yes,no\n"
                 "A6,,Too many,,x,1,EUR,false,false,extra\n"
                 "A7,,Price decimals,,x,1.999,EUR,false,false\n"
                 "A8,,Flag,,x,1,EUR,maybe,false\n")
    report = run(db, path)
    assert (report.rows, report.created, report.updated) == (8, 2, 0)
    assert [e.line for e in report.errors] == [3, 4, 5, 7, 8, 9]
    assert "invalid_ean" in report.errors[0].reason
    assert "price.amount" in report.errors[1].reason
    assert "name" in report.errors[2].reason
    assert "fields" in report.errors[3].reason
    assert "invalid_amount" in report.errors[4].reason
    assert "is_gift" in report.errors[5].reason
    with db.read() as s:
        gift = service.get_product(s, "A5")
        assert gift.is_gift and gift.price_minor == 0
        milk = service.get_product(s, "A1")
        assert milk.perishable and milk.price_minor == 129 and milk.ean == "4006381333931"
        assert [p.sku for p in service.search_products(s, q="alpine mlk", limit=5)] == ["A1"]
    assert count(db) == 2
    assert count(db, OutboxEvent) == 2 and count(db, AuditEntry) == 2


@pytest.mark.parametrize("text, message", [
    ("sku,name\nA1,Milk\n", "missing required column(s): price"),
    ("sku,name,price,colour\nA1,Milk,1.00,red\n", "unknown column(s): colour"),
    ("sku,name,price,price\nA1,Milk,1.00,1.00\n", "repeated column(s): price"),
    ("", "empty"),
])
def test_a_wrong_header_loads_nothing(db, tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(csvio.HeaderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(db, path)
    assert count(db) == 0


def test_existing_skus_are_updated_and_unchanged_rows_counted(db, tmp_path):
    run(db, write(tmp_path, HEADER + "A1,4006381333931,Alpine Milk,Alpenhof,Dairy,1.29,EUR,false,true\n"))
    report = run(db, write(tmp_path, HEADER + "A1,4006381333931,Alpine Oat Milk,Alpenhof,Dairy,1.49,EUR,false,true\n"
                                              "A2,,Butter,Alpenhof,Dairy,2.00,EUR,false,true\n"))
    assert (report.created, report.updated, report.errors) == (1, 1, [])
    report = run(db, write(tmp_path, HEADER + "A1,4006381333931,Alpine Oat Milk,Alpenhof,Dairy,1.49,EUR,false,true\n"))
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    with db.read() as s:
        assert service.get_product(s, "A1").price_minor == 149
        assert [p.sku for p in service.search_products(s, q="oat", limit=5)] == ["A1"]
        assert service.search_products(s, q="alpenhof milk", limit=5)[0].sku == "A1"


def test_an_ean_owned_by_another_sku_or_repeated_in_the_file_is_refused(db, tmp_path):
    run(db, write(tmp_path, HEADER + "A1,4006381333931,Alpine Milk,,Dairy,1.29,EUR,false,true\n"))
    report = run(db, write(tmp_path, HEADER +
                           "B1,4006381333931,Other Milk,,Dairy,1.29,EUR,false,true\n"
                           "B2,036000291452,Upc Item,,x,1.00,EUR,false,false\n"
                           "B3,0036000291452,Same Gtin,,x,1.00,EUR,false,false\n"
                           "B2,,Same Sku Again,,x,1.00,EUR,false,false\n"))
    assert report.created == 1
    assert [(e.line, "duplicate_ean" in e.reason or "already on line" in e.reason) for e in report.errors] == [
        (2, True), (4, True), (5, True)]
    assert "line 3" in report.errors[1].reason and "line 3" in report.errors[2].reason
    assert count(db) == 2


def test_small_batches_give_the_same_result_as_one_batch(db, tmp_path):
    rows = "".join(f"S{i},,Item number {i},Brand,Cat,{i}.00,EUR,false,false\n" for i in range(1, 26))
    report = run(db, write(tmp_path, HEADER + rows + "S3,,Duplicate,,x,1,EUR,false,false\n"), batch_size=4)
    assert report.created == 25 and [e.line for e in report.errors] == [27]


def test_export_writes_what_import_reads_back(db, tmp_path):
    run(db, write(tmp_path, "sku,ean,name,price,image_urls,attributes,rating,family\n"
                            'A1,4006381333931,Alpine Milk,1.29,https://img.test/a.jpg,'
                            '"{""size"": ""1 l""}",4.5,MILK\n'))
    with db.read() as s:
        rows = list(export_rows(s))
    assert rows[0]["attributes"] == '{"size": "1 l"}' and rows[0]["image_urls"] == "https://img.test/a.jpg"
    out = tmp_path / "export.csv"
    with out.open("w", newline="") as handle:
        csvio.write_csv(handle, COLUMNS, rows)
    report = run(db, out)
    assert (report.unchanged, report.errors) == (1, [])
