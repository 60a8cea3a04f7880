"""Keep the search index in step with products, and answer name searches from it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from omniretail.catalog import search
from omniretail.catalog.models import Product, ProductTerm, SearchKey, SearchTerm
from omniretail.core.db import insert_ignore

#: Posting lists are counted up to this many rows to pick the most selective query word.
SELECTIVITY_PROBE = 2_000
MAX_PREFIX_TERMS = 50


def product_words(name: str, brand: str | None) -> list[str]:
    return [w[:64] for w in search.tokens(f"{name} {brand or ''}")]


def index_products(session: Session, products: Sequence[Product], *, replace: bool = True) -> None:
    """(Re)write the index rows of `products` (which must have ids)."""
    if not products:
        return
    if replace:
        session.execute(delete(ProductTerm).where(ProductTerm.product_id.in_([p.id for p in products])))
    postings: list[dict[str, object]] = []
    vocabulary: set[str] = set()
    for product in products:
        words = product_words(product.name, product.brand)
        vocabulary.update(words)
        postings.extend({"term": w, "product_id": product.id} for w in words)
    _add_vocabulary(session, vocabulary)
    if postings:
        session.execute(ProductTerm.__table__.insert(), postings)


def _add_vocabulary(session: Session, words: Iterable[str]) -> None:
    words = sorted(set(words))
    known = set(session.scalars(select(SearchTerm.term).where(SearchTerm.term.in_(words)))) if words else set()
    new = [w for w in words if w not in known]
    if not new:
        return
    insert_ignore(session, SearchTerm.__table__, [{"term": w} for w in new], conflict=["term"])
    keys = [{"key": k, "term": w} for w in new for k in sorted(search.deletion_keys(w))]
    insert_ignore(session, SearchKey.__table__, keys, conflict=["key", "term"])


def _candidates(session: Session, word: search.QueryWord) -> dict[str, float]:
    fuzzy: set[str] = set()
    if search.fuzzy_allowed(word.text):
        keys = sorted(search.deletion_keys(word.text))
        fuzzy = set(session.scalars(select(SearchKey.term).where(SearchKey.key.in_(keys))))
    prefix: set[str] = set()
    if word.allows_prefix:
        upper = search.prefix_upper_bound(word.text)
        prefix = set(session.scalars(
            select(SearchTerm.term).where(SearchTerm.term > word.text, SearchTerm.term < upper)
            .order_by(SearchTerm.term).limit(MAX_PREFIX_TERMS)
        ))
    return search.weigh_candidates(word, fuzzy, prefix)


def _posting_size(session: Session, terms: Iterable[str]) -> int:
    inner = select(ProductTerm.product_id).where(ProductTerm.term.in_(list(terms))).limit(SELECTIVITY_PROBE).subquery()
    return session.scalar(select(func.count()).select_from(inner)) or 0


def search_product_ids(session: Session, q: str, *, limit: int, offset: int = 0) -> list[int]:
    """Ids of active products matching every word of `q` (each within one typo), best first."""
    words = search.parse_query(q)
    if not words:
        return []
    candidates = [_candidates(session, w) for w in words]
    sizes = [_posting_size(session, c) for c in candidates]
    if min(sizes) == 0:
        return []
    driver = candidates[sizes.index(min(sizes))]

    params: dict[str, object] = {"n": len(words), "limit": limit, "offset": offset,
                                 "driver": sorted(driver)}
    values = []
    for pos, weights in enumerate(candidates):
        for i, (term, weight) in enumerate(sorted(weights.items())):
            values.append(f"(:t{pos}_{i}, {pos}, :w{pos}_{i})")
            params[f"t{pos}_{i}"] = term
            params[f"w{pos}_{i}"] = weight
    sql = text(f"""
        WITH q(term, pos, w) AS (VALUES {", ".join(values)}),
        cand AS (SELECT DISTINCT product_id FROM product_terms WHERE term IN :driver),
        hits AS (
            SELECT pt.product_id AS pid, q.pos AS pos, MAX(q.w) AS w
            FROM cand JOIN product_terms pt ON pt.product_id = cand.product_id
            JOIN q ON q.term = pt.term
            GROUP BY pt.product_id, q.pos
        ),
        scored AS (SELECT pid, SUM(w) AS score FROM hits GROUP BY pid HAVING COUNT(*) = :n)
        SELECT p.id FROM scored JOIN products p ON p.id = scored.pid
        WHERE p.active
        ORDER BY scored.score DESC, LENGTH(p.name), COALESCE(p.rating, 0) DESC, p.name, p.id
        LIMIT :limit OFFSET :offset
    """).bindparams(bindparam("driver", expanding=True))
    return list(session.scalars(sql, params))


def unindexed_product_count(session: Session) -> int:
    """Products with no index rows (an invariant `omniretail check` verifies)."""
    indexed = select(ProductTerm.product_id).where(ProductTerm.product_id == Product.id).exists()
    return session.scalar(select(func.count()).select_from(Product).where(~indexed)) or 0
