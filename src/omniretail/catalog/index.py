"""Keep the search index in step with products, and answer name searches from it.

Tables: `product_terms` (word → product), `search_terms` (the vocabulary, with each
word's document frequency `df`) and `search_keys` (a word and its one-letter deletions →
the word). A query costs a fixed number of statements whatever its length: one for all
typo candidates, one for completions of the last word, one for the ranked ids.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session

from omniretail.catalog import search
from omniretail.catalog.models import ProductTerm, SearchKey, SearchTerm
from omniretail.core.bulk import insert_rows
from omniretail.core.db import insert_ignore

MAX_PREFIX_TERMS = 50


def product_words(name: str, brand: str | None) -> list[str]:
    return [w[:64] for w in search.tokens(f"{name} {brand or ''}")]


class Indexable(Protocol):
    id: int
    name: str
    brand: str | None


def index_products(session: Session, products: Sequence[Indexable], *, replace: bool = True) -> None:
    """(Re)write the index rows of `products` (which must have ids)."""
    if not products:
        return
    df_change: Counter[str] = Counter()
    if replace:
        ids = [p.id for p in products]
        df_change.subtract(session.scalars(select(ProductTerm.term).where(ProductTerm.product_id.in_(ids))))
        session.execute(delete(ProductTerm).where(ProductTerm.product_id.in_(ids)))
    postings: list[dict[str, object]] = []
    for product in products:
        words = product_words(product.name, product.brand)
        df_change.update(words)
        postings.extend({"term": w, "product_id": product.id} for w in words)
    _add_vocabulary(session, [w for w, n in df_change.items() if n > 0])
    insert_rows(session, ProductTerm.__table__, postings)
    _change_document_frequencies(session, {term: n for term, n in df_change.items() if n != 0})


def _change_document_frequencies(session: Session, changes: dict[str, int]) -> None:
    if not changes:
        return
    terms = sorted(changes)
    table = SearchTerm.__table__
    if session.get_bind().dialect.name == "postgresql":
        # Lock the rows in one order first, so concurrent writers cannot deadlock; then one UPDATE.
        session.execute(select(table.c.term).where(table.c.term.in_(terms)).order_by(table.c.term).with_for_update())
        session.execute(text("""
            UPDATE search_terms AS s SET df = s.df + v.n
            FROM unnest(CAST(:terms AS text[]), CAST(:counts AS integer[])) AS v(term, n)
            WHERE s.term = v.term"""), {"terms": terms, "counts": [changes[t] for t in terms]})
        return
    session.connection().execute(
        update(table).where(table.c.term == bindparam("t")).values(df=table.c.df + bindparam("n")),
        [{"t": t, "n": changes[t]} for t in terms])


def _add_vocabulary(session: Session, words: Iterable[str]) -> None:
    words = sorted(set(words))
    if not words:
        return
    known = set(session.scalars(select(SearchTerm.term).where(SearchTerm.term.in_(words))))
    new = [w for w in words if w not in known]
    if not new:
        return
    insert_ignore(session, SearchTerm.__table__, [{"term": w, "df": 0} for w in new], conflict=["term"])
    keys = [{"key": k, "term": w} for w in new for k in sorted(search.deletion_keys(w))]
    insert_ignore(session, SearchKey.__table__, keys, conflict=["key", "term"])


def _candidates(session: Session, words: list[search.QueryWord]) -> list[dict[str, float]]:
    """For each query word, the vocabulary words that may stand for it, weighted."""
    keys_of = {w.position: search.deletion_keys(w.text) if search.fuzzy_allowed(w.text) else set() for w in words}
    all_keys = sorted(set().union(*keys_of.values()))
    terms_by_key: dict[str, set[str]] = defaultdict(set)
    if all_keys:
        for key, term in session.execute(select(SearchKey.key, SearchKey.term).where(SearchKey.key.in_(all_keys))):
            terms_by_key[key].add(term)
    result = []
    for word in words:
        fuzzy = set().union(*(terms_by_key.get(k, set()) for k in keys_of[word.position]))
        prefix: set[str] = set()
        if word.allows_prefix:
            upper = search.prefix_upper_bound(word.text)
            prefix = set(session.scalars(
                select(SearchTerm.term).where(SearchTerm.term > word.text, SearchTerm.term < upper, SearchTerm.df > 0)
                .order_by(SearchTerm.df.desc()).limit(MAX_PREFIX_TERMS)))
        result.append(search.weigh_candidates(word, fuzzy, prefix))
    return result


def _document_frequencies(session: Session, terms: Iterable[str]) -> dict[str, int]:
    return dict(session.execute(select(SearchTerm.term, SearchTerm.df).where(SearchTerm.term.in_(sorted(set(terms))))).all())


def search_product_ids(session: Session, q: str, *, limit: int, offset: int = 0,
                       exclude_id: int | None = None) -> list[int]:
    """Ids of active products matching every word of `q` (each within one typo), best first."""
    words = search.parse_query(q)
    if not words:
        return []
    candidates = _candidates(session, words)
    df = _document_frequencies(session, (t for c in candidates for t in c))
    sizes = [sum(df.get(t, 0) for t in c) for c in candidates]
    if min(sizes) == 0:
        return []
    # Start from the two most selective words: their intersection is small, the rest is checked on it.
    order = sorted(range(len(words)), key=sizes.__getitem__)
    params: dict[str, object] = {"n": len(words), "limit": limit, "offset": offset, "exclude": exclude_id or 0}
    seed = "SELECT product_id FROM product_terms WHERE term IN :first"
    if len(order) > 1:
        params["first"] = sorted(candidates[order[0]])
        params["second"] = sorted(candidates[order[1]])
        seed += " INTERSECT SELECT product_id FROM product_terms WHERE term IN :second"
    values = []
    for pos, weights in enumerate(candidates):
        for i, (term, weight) in enumerate(sorted(weights.items())):
            values.append(f"(:t{pos}_{i}, {pos}, :w{pos}_{i})")
            params[f"t{pos}_{i}"] = term
            params[f"w{pos}_{i}"] = weight
    if len(words) == 1:
        # One word: its postings are the hits; no need to look at the candidates' other words.
        hits = """SELECT pt.product_id AS pid, q.pos AS pos, MAX(q.w) AS w
            FROM product_terms pt JOIN q ON q.term = pt.term GROUP BY pt.product_id, q.pos"""
    else:
        hits = f"""SELECT pt.product_id AS pid, q.pos AS pos, MAX(q.w) AS w
            FROM ({seed}) AS cand JOIN product_terms pt ON pt.product_id = cand.product_id
            JOIN q ON q.term = pt.term
            GROUP BY pt.product_id, q.pos"""
    sql = text(f"""
        WITH q(term, pos, w) AS (VALUES {", ".join(values)}),
        hits AS ({hits}),
        scored AS (SELECT pid, SUM(w) AS score FROM hits GROUP BY pid HAVING COUNT(*) = :n)
        SELECT p.id FROM scored JOIN products p ON p.id = scored.pid
        WHERE p.active AND p.id != :exclude
        ORDER BY scored.score DESC, LENGTH(p.name), COALESCE(p.rating, 0) DESC, p.name, p.id
        LIMIT :limit OFFSET :offset
    """).bindparams(*(bindparam(k, expanding=True) for k in ("first", "second") if k in params))
    return list(session.scalars(sql, params))


def document_frequency_mismatches(session: Session) -> int:
    """Vocabulary words whose `df` differs from their posting count (checked by `omniretail check`)."""
    counts = select(ProductTerm.term, func.count().label("n")).group_by(ProductTerm.term).subquery()
    query = (select(func.count()).select_from(SearchTerm).outerjoin(counts, counts.c.term == SearchTerm.term)
             .where(SearchTerm.df != func.coalesce(counts.c.n, 0)))
    return session.scalar(query) or 0
