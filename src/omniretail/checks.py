"""Invariants `omniretail check` verifies; each domain adds its own as it lands."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniretail.catalog.index import document_frequency_mismatches, product_words
from omniretail.catalog.models import Product, ProductTerm, SearchTerm
from omniretail.catalog.search import static_rank
from omniretail.core.models import ApiKey
from omniretail.customers.invariants import customer_violations
from omniretail.fulfilment.invariants import fulfilment_violations
from omniretail.inventory.invariants import stock_violations
from omniretail.locations.models import Location
from omniretail.loyalty.invariants import ledger_violations
from omniretail.orders.invariants import order_violations

Check = tuple[str, bool, str]
BATCH = 5000


def search_index_matches_products(session: Session) -> Check:
    """Every active product's index rows are exactly the words of its name and brand, at its rank."""
    wrong: list[str] = []
    last = 0
    while True:
        rows = session.execute(select(Product.id, Product.sku, Product.name, Product.brand, Product.rating,
                                      Product.active)
                               .where(Product.id > last).order_by(Product.id).limit(BATCH)).all()
        if not rows:
            break
        indexed: dict[int, set[tuple[str, int]]] = defaultdict(set)
        for term, rank, product_id in session.execute(
                select(ProductTerm.term, ProductTerm.rank, ProductTerm.product_id).where(
                    ProductTerm.product_id.between(rows[0].id, rows[-1].id))):
            indexed[product_id].add((term, rank))
        for r in rows:
            expected = {(w, static_rank(r.name, r.rating)) for w in product_words(r.name, r.brand)} if r.active \
                else set()
            if indexed.get(r.id, set()) != expected:
                wrong.append(r.sku)
        last = rows[-1].id
    if wrong:
        return "search index", False, f"{len(wrong)} product(s) indexed wrongly, e.g. {', '.join(wrong[:5])}"
    return "search index", True, "every active product indexed by the words of its name and brand"


def vocabulary_covers_index(session: Session) -> Check:
    missing = session.scalar(select(func.count(func.distinct(ProductTerm.term))).where(
        ~select(SearchTerm.term).where(SearchTerm.term == ProductTerm.term).exists())) or 0
    if missing:
        return "search vocabulary", False, f"{missing} indexed word(s) missing from the vocabulary"
    return "search vocabulary", True, "every indexed word is in the vocabulary"


def document_frequencies_are_exact(session: Session) -> Check:
    wrong = document_frequency_mismatches(session)
    if wrong:
        return "search frequencies", False, f"{wrong} vocabulary word(s) with a wrong product count"
    return "search frequencies", True, "every word's product count matches the index"


def associate_keys_point_at_locations(session: Session) -> Check:
    known = set(session.scalars(select(Location.id)))
    bad = [f"key {k.id}" for k in session.scalars(select(ApiKey).where(ApiKey.role == "associate"))
           if not set(k.location_ids or []) <= known]
    if bad:
        return "key scopes", False, f"{', '.join(bad)} bound to unknown locations"
    return "key scopes", True, "every associate key is bound to existing locations"


def stock_is_consistent(session: Session) -> Check:
    problems = stock_violations(session)
    if problems:
        return "stock", False, f"{len(problems)} violation(s): " + "; ".join(problems[:5])
    return "stock", True, "lots and ledger sum to on hand; reservations and expired lots match; nothing negative"


def customers_are_consistent(session: Session) -> Check:
    problems = customer_violations(session)
    if problems:
        return "customers", False, f"{len(problems)} violation(s): " + "; ".join(problems[:5])
    return "customers", True, "merges lead to a profile; merged and erased profiles own nothing and hold no data"


def points_are_consistent(session: Session) -> Check:
    problems = ledger_violations(session)
    if problems:
        return "loyalty", False, f"{len(problems)} violation(s): " + "; ".join(problems[:5])
    return "loyalty", True, "every balance is the sum of its ledger and never negative"


def orders_are_consistent(session: Session) -> Check:
    problems = order_violations(session)
    if problems:
        return "orders", False, f"{len(problems)} violation(s): " + "; ".join(problems[:5])
    return "orders", True, "open orders hold exactly their lines reserved, finished ones nothing; totals add up"


def fulfilments_are_consistent(session: Session) -> Check:
    problems = fulfilment_violations(session)
    if problems:
        return "fulfilment", False, f"{len(problems)} violation(s): " + "; ".join(problems[:5])
    return "fulfilment", True, "open fulfilments hold their lines reserved, finished ones nothing; no return " \
                               "exceeds what was bought"


def run_checks(session: Session) -> Iterator[Check]:
    yield search_index_matches_products(session)
    yield vocabulary_covers_index(session)
    yield document_frequencies_are_exact(session)
    yield associate_keys_point_at_locations(session)
    yield stock_is_consistent(session)
    yield customers_are_consistent(session)
    yield points_are_consistent(session)
    yield orders_are_consistent(session)
    yield fulfilments_are_consistent(session)
