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
from omniretail.catalog.models import Product, ProductTerm, SearchKey, SearchTerm
from omniretail.core.bulk import insert_rows
from omniretail.core.db import insert_ignore

MAX_PREFIX_TERMS = 50
COMMON_WORD_FLOOR = 1_000
#: Product fields whose change rewrites the product's index rows.
INDEXED_FIELDS = frozenset({"name", "brand", "rating", "active"})


def product_words(name: str, brand: str | None) -> list[str]:
    return [w[:64] for w in search.tokens(f"{name} {brand or ''}")]


class Indexable(Protocol):
    id: int
    name: str
    brand: str | None
    rating: float | None
    active: bool


def index_products(session: Session, products: Sequence[Indexable], *, replace: bool = True) -> None:
    """(Re)write the index rows of `products` (which must have ids); inactive products get none."""
    if not products:
        return
    df_change: Counter[str] = Counter()
    if replace:
        ids = [p.id for p in products]
        df_change.subtract(session.scalars(select(ProductTerm.term).where(ProductTerm.product_id.in_(ids))))
        session.execute(delete(ProductTerm).where(ProductTerm.product_id.in_(ids)))
    postings: list[dict[str, object]] = []
    for product in products:
        if not product.active:
            continue
        words = product_words(product.name, product.brand)
        rank = search.static_rank(product.name, product.rating)
        df_change.update(words)
        postings.extend({"term": w, "rank": rank, "product_id": product.id} for w in words)
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


def _candidates(session: Session, words: list[search.QueryWord]) -> tuple[list[dict[str, float]], dict[str, int]]:
    """For each query word, the vocabulary words that may stand for it, weighted; and their frequencies."""
    keys_of = {w.position: search.deletion_keys(w.text) for w in words}
    terms_by_key: dict[str, set[str]] = defaultdict(set)
    df: dict[str, int] = {}
    rows = session.execute(select(SearchKey.key, SearchKey.term, SearchTerm.df)
                           .join(SearchTerm, SearchTerm.term == SearchKey.term)
                           .where(SearchKey.key.in_(sorted(set().union(*keys_of.values())))))
    for key, term, frequency in rows:
        terms_by_key[key].add(term)
        df[term] = frequency
    result = []
    for word in words:
        fuzzy = set().union(*(terms_by_key.get(k, set()) for k in keys_of[word.position]))
        prefix: set[str] = set()
        if word.allows_prefix:
            upper = search.prefix_upper_bound(word.text)
            completions = session.execute(
                select(SearchTerm.term, SearchTerm.df).where(SearchTerm.term > word.text, SearchTerm.term < upper,
                                                             SearchTerm.df > 0)
                .order_by(SearchTerm.df.desc()).limit(MAX_PREFIX_TERMS)).all()
            df.update(completions)
            prefix = {term for term, _ in completions}
        result.append(search.weigh_candidates(word, fuzzy, prefix))
    return result, df


def search_ranked(session: Session, q: str, *, limit: int, offset: int = 0,
                  exclude_id: int | None = None) -> list[Product]:
    """Active products matching every word of `q` (each within one typo), best first.

    Order: the sum of each word's weight (exact > completion > one typo), then `static_rank`.
    """
    words = search.parse_query(q)
    if not words:
        return []
    candidates, df = _candidates(session, words)
    sizes = [sum(df.get(t, 0) for t in c) for c in candidates]
    if min(sizes) == 0:
        return []
    query = _SearchSql(candidates, depth=offset + limit + 1)
    by_size = sorted(range(len(words)), key=sizes.__getitem__)
    if len(words) == 1:
        cand = query.top_of(0)
    elif sizes[by_size[1]] <= BROAD_WORD:
        cand = query.intersection(by_size[0], by_size[1])
    else:
        cand = query.top_of(by_size[0], also=[p for p in by_size[1:]])
    sql = text(f"""
        SELECT p.* FROM (SELECT cand.product_id AS pid, MIN(cand.rank) AS rank, {query.weights()}
                         FROM ({cand}) AS cand GROUP BY cand.product_id) AS scored
        JOIN products p ON p.id = scored.pid
        WHERE {query.all_matched()} AND scored.pid != :exclude
        ORDER BY {query.score()} DESC, scored.rank, scored.pid
        LIMIT :limit OFFSET :offset
    """)
    params = {**query.params, "limit": limit, "offset": offset, "exclude": exclude_id or 0}
    return list(session.scalars(select(Product).from_statement(sql), params))


#: Above this many products for each of the two rarest words, a query reads only each word's best-ranked
#: postings (early termination) instead of the whole intersection.
BROAD_WORD = 5_000


class _SearchSql:
    """SQL fragments of one search, with their bound parameters."""

    def __init__(self, candidates: list[dict[str, float]], *, depth: int) -> None:
        self.candidates = candidates
        self.depth = depth
        self.params: dict[str, object] = {"depth": depth}
        self.terms: list[list[str]] = []
        for pos, weights in enumerate(candidates):
            names = []
            for i, (term, weight) in enumerate(sorted(weights.items())):
                self.params[f"t{pos}_{i}"], self.params[f"w{pos}_{i}"] = term, weight
                names.append(f"t{pos}_{i}")
            self.terms.append(names)

    def _in(self, pos: int) -> str:
        return ", ".join(f":{name}" for name in self.terms[pos])

    def _case(self, pos: int, column: str) -> str:
        whens = " ".join(f"WHEN :{name} THEN :w{name[1:]}" for name in self.terms[pos])
        return f"MAX(CASE {column} {whens} END)"

    def top_of(self, pos: int, *, also: list[int] | None = None) -> str:
        """The `depth` best-ranked products of each candidate word of `pos` (that also match `also`)."""
        exists = "".join(f" AND EXISTS (SELECT 1 FROM product_terms o WHERE o.product_id = pt.product_id "
                         f"AND o.term IN ({self._in(other)}))" for other in also or [])
        parts = [f"SELECT * FROM (SELECT pt.product_id, pt.rank FROM product_terms pt WHERE pt.term = :{name}"
                 f"{exists} ORDER BY pt.rank, pt.product_id LIMIT :depth) AS top_{name}"
                 for name in self.terms[pos]]
        return " UNION ALL ".join(parts)

    def intersection(self, first: int, second: int) -> str:
        return (f"SELECT product_id, rank FROM product_terms WHERE term IN ({self._in(first)}) INTERSECT "
                f"SELECT product_id, rank FROM product_terms WHERE term IN ({self._in(second)})")

    def weights(self) -> str:
        """Per word, the weight of the best of its candidates the product has (NULL: none)."""
        return ", ".join(
            f"(SELECT {self._case(pos, 'pt.term')} FROM product_terms pt WHERE pt.product_id = cand.product_id "
            f"AND pt.term IN ({self._in(pos)})) AS s{pos}" for pos in range(len(self.terms)))

    def all_matched(self) -> str:
        return " AND ".join(f"s{pos} IS NOT NULL" for pos in range(len(self.terms)))

    def score(self) -> str:
        return " + ".join(f"s{pos}" for pos in range(len(self.terms)))


def shared_words(session: Session, product: Indexable):  # type: ignore[no-untyped-def]
    """A subquery (product_id, shared) of products sharing the product's descriptive words.

    Descriptive: alphabetic words of three letters or more that are not the brand's and that
    fewer than a fifth of a large catalogue carries; None when the name has none.
    """
    brand_words = set(search.tokens(product.brand or ""))
    words = [w for w in search.tokens(product.name) if w.isalpha() and len(w) >= 3 and w not in brand_words]
    if not words:
        return None
    total = session.scalar(select(func.count()).select_from(Product).where(Product.active)) or 1
    common = {t for t, df in _frequencies(session, words).items() if df > max(total / 5, COMMON_WORD_FLOOR)}
    words = [w for w in words if w not in common]
    if not words:
        return None
    return (select(ProductTerm.product_id, func.count().label("shared"))
            .where(ProductTerm.term.in_(words), ProductTerm.product_id != product.id)
            .group_by(ProductTerm.product_id).subquery())


def _frequencies(session: Session, words: list[str]) -> dict[str, int]:
    return dict(session.execute(select(SearchTerm.term, SearchTerm.df).where(SearchTerm.term.in_(words))).all())


def document_frequency_mismatches(session: Session) -> int:
    """Vocabulary words whose `df` differs from their posting count (checked by `omniretail check`)."""
    counts = select(ProductTerm.term, func.count().label("n")).group_by(ProductTerm.term).subquery()
    query = (select(func.count()).select_from(SearchTerm).outerjoin(counts, counts.c.term == SearchTerm.term)
             .where(SearchTerm.df != func.coalesce(counts.c.n, 0)))
    return session.scalar(query) or 0
