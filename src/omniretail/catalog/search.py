"""Typo-tolerant product search rules: tokens, edit-distance-1 keys, candidate weights.

Pure module. Every indexed word also stores its one-letter deletions; a query word's
deletions meet them exactly when the two words are within one edit (substitution,
insertion, deletion or transposition) — the SymSpell idea with distance 1. Candidates
found that way are confirmed with rapidfuzz's optimal string alignment distance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from omniretail.core.text import normalise

EXACT, PREFIX, FUZZY = 1.0, 0.8, 0.6
MIN_FUZZY_LENGTH = 3
MIN_PREFIX_LENGTH = 2
MAX_QUERY_WORDS = 16
_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Distinct words of `text` in order of appearance."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(normalise(text)):
        seen.setdefault(word, None)
    return list(seen)


def fuzzy_allowed(word: str) -> bool:
    # Sizes and codes ("500g", "x200") must match exactly: 500g is not 600g.
    return len(word) >= MIN_FUZZY_LENGTH and word.isalpha()


def deletion_keys(word: str) -> set[str]:
    """The word and every string made by deleting one of its letters."""
    keys = {word}
    if fuzzy_allowed(word):
        keys.update(word[:i] + word[i + 1:] for i in range(len(word)))
    return keys


def within_one_edit(a: str, b: str) -> bool:
    return OSA.distance(a, b, score_cutoff=1) <= 1


@dataclass(frozen=True)
class QueryWord:
    position: int
    text: str
    is_last: bool

    @property
    def allows_prefix(self) -> bool:
        return self.is_last and len(self.text) >= MIN_PREFIX_LENGTH and self.text.isalpha()


def parse_query(q: str) -> list[QueryWord]:
    words = tokens(q)[:MAX_QUERY_WORDS]
    return [QueryWord(i, w, i == len(words) - 1) for i, w in enumerate(words)]


def weigh_candidates(word: QueryWord, fuzzy_terms: set[str], prefix_terms: set[str]) -> dict[str, float]:
    """Weight each vocabulary term that may stand for `word`: exact > prefix > one edit."""
    weights: dict[str, float] = {}
    if fuzzy_allowed(word.text):
        for term in fuzzy_terms:
            if term != word.text and within_one_edit(word.text, term):
                weights[term] = FUZZY
    for term in prefix_terms:
        if term != word.text and term.startswith(word.text):
            weights[term] = max(weights.get(term, 0.0), PREFIX)
    weights[word.text] = EXACT
    return weights


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (for a range scan)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def static_rank(name: str, rating: float | None) -> int:
    """Order among products that match a query equally well (lower first): shorter names, since
    they have fewer words the query did not ask for, then better ratings."""
    return len(name) * 100 + (50 - round((rating or 0.0) * 10))
