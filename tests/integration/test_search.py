"""Name search ranks exact over prefix over typo, needs every word, and follows product changes."""

import pytest

from omniretail.catalog import service
from omniretail.catalog.schemas import ProductIn, ProductPatch
from omniretail.core.security import SYSTEM

PRODUCTS = [
    ("P1", "Schokohaus Dark Chocolate 100 g", "Schokohaus", 4.0),
    ("P2", "Schokohaus Dark Chocolate 100 g Family Pack", "Schokohaus", 5.0),
    ("P3", "Schokohaus Milk Chocolate 100 g", "Schokohaus", 3.0),
    ("P4", "Alpenhof Whole Milk 1 l", "Alpenhof", 4.5),
    ("P5", "Alpenhof Mild Gouda 500 g", "Alpenhof", 4.0),
    ("P6", "Crème Brûlée Dessert", "Dessertwerk", None),
]


@pytest.fixture
def catalogue(db):
    with db.write() as s:
        for sku, name, brand, rating in PRODUCTS:
            service.create_product(s, actor=SYSTEM, default_currency="EUR", data=ProductIn(
                sku=sku, name=name, brand=brand, price={"amount": "1.00"}, rating=rating, category="Food"))
    return db


def skus(db, q, limit=10, offset=0):
    with db.read() as s:
        return [p.sku for p in service.search_products(s, q=q, limit=limit, offset=offset)][:limit]


def test_every_query_word_must_match(catalogue):
    assert skus(catalogue, "dark chocolate") == ["P1", "P2"]
    assert skus(catalogue, "dark gouda") == []


def test_one_typo_per_word_still_finds_the_product(catalogue):
    assert skus(catalogue, "drak chocolte") == ["P1", "P2"]
    assert skus(catalogue, "alpenhf whole mlik") == ["P4"]


def test_the_shorter_name_ranks_first_among_equal_matches(catalogue):
    assert skus(catalogue, "schokohaus dark chocolate 100 g")[:2] == ["P1", "P2"]


def test_an_exact_word_outranks_a_word_one_typo_away(catalogue):
    # "milk" is exact for P3/P4 and one edit from "mild" (P5).
    assert skus(catalogue, "alpenhof milk") == ["P4", "P5"]


def test_the_last_word_completes_as_a_prefix(catalogue):
    assert skus(catalogue, "whole mi") == ["P4"]
    assert skus(catalogue, "goud") == ["P5"]


def test_accents_and_case_do_not_matter(catalogue):
    assert skus(catalogue, "CREME brulee") == ["P6"]


def test_sizes_and_numbers_must_match_exactly(catalogue):
    assert skus(catalogue, "gouda 600 g") == []
    assert skus(catalogue, "gouda 500 g") == ["P5"]


def test_exact_sku_and_ean_lookups_come_first(catalogue):
    assert skus(catalogue, "P3")[0] == "P3"
    with catalogue.write() as s:
        service.update_product(s, actor=SYSTEM, sku="P4", default_currency="EUR",
                               patch=ProductPatch(ean="4006381333931"))
    assert skus(catalogue, "4006381333931") == ["P4"]
    assert skus(catalogue, "0004006381333931") == []  # 16 digits: not an article number


def test_renamed_and_withdrawn_products_are_found_as_they_are_now(catalogue):
    with catalogue.write() as s:
        service.update_product(s, actor=SYSTEM, sku="P4", default_currency="EUR",
                               patch=ProductPatch(name="Alpenhof Oat Drink 1 l"))
        service.update_product(s, actor=SYSTEM, sku="P5", default_currency="EUR", patch=ProductPatch(active=False))
    assert skus(catalogue, "whole milk") == []
    assert skus(catalogue, "oat drink") == ["P4"]
    assert skus(catalogue, "gouda") == []


def test_pages_do_not_repeat_or_skip(catalogue):
    assert skus(catalogue, "schokohaus", limit=2) + skus(catalogue, "schokohaus", limit=2, offset=2) == \
        skus(catalogue, "schokohaus", limit=10)


def test_broad_queries_read_only_the_best_ranked_postings_and_agree_with_the_full_plan(catalogue, monkeypatch):
    from omniretail.catalog import index

    full = [skus(catalogue, q) for q in ("schokohaus chocolate", "schokohaus 100 g", "alpenhof")]
    monkeypatch.setattr(index, "BROAD_WORD", 0)
    assert [skus(catalogue, q) for q in ("schokohaus chocolate", "schokohaus 100 g", "alpenhof")] == full
    assert skus(catalogue, "schokohaus chocolate", limit=1) == full[0][:1]


def test_similar_alternatives_share_descriptive_words_before_being_near_in_price(catalogue):
    with catalogue.write() as s:
        service.update_product(s, actor=SYSTEM, sku="P3", default_currency="EUR",
                               patch=ProductPatch(price={"amount": "9.00"}))
    with catalogue.read() as s:
        found = [(p.sku, source) for p, source in service.alternatives(s, sku="P4", limit=3)]
    # P3 "Milk Chocolate" shares "milk" despite its price; Alpenhof's gouda shares only the brand.
    assert found == [("P3", "similar"), ("P1", "similar"), ("P2", "similar")]
