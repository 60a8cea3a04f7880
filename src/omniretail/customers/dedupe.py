"""Batch duplicate finding over all profiles, and a merge plan that never chains errors. Pure module."""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from itertools import combinations

from omniretail.customers.blocking import keys_of
from omniretail.customers.matching import Features, Person, Thresholds, compare, prepare

MAX_BLOCK = 300  # a key shared by more records (a shop's e-mail, a care home) is no evidence and costs n² pairs
CHUNK = 20_000  # pairs per unit of work: progress moves often and workers are fed evenly
CONFLICT_REASONS = frozenset({"given_name_conflict", "dob_conflict"})


@dataclass(frozen=True, slots=True)
class ScoredPair:
    a_id: int  # always the smaller id
    b_id: int
    probability: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DedupeResult:
    auto_pairs: list[ScoredPair]
    review_pairs: list[ScoredPair]
    conflict_pairs: frozenset[tuple[int, int]]  # scored and found to be two people: plan_merges keeps them apart
    compared: int  # candidate pairs scored
    oversized_blocks: int  # keys held by more than MAX_BLOCK records, not used


Progress = Callable[[int, int], None]

# Prepared persons for worker processes: set before the pool forks, so children read them without pickling.
_shared_features: list[Features] = []


def find_duplicates(
    records: Iterable[tuple[int, Person]],
    thresholds: Thresholds,
    *,
    workers: int = 1,
    progress: Progress | None = None,
    max_block: int = MAX_BLOCK,
) -> DedupeResult:
    """Score every pair of records that shares a blocking key; sort them into automatic merges and review."""
    # progress(done, total) counts records while they are prepared (when `records` has a length), then pairs while
    # they are compared. workers > 1 compares in forked processes: that pays where records have many candidate
    # pairs each; at about one pair per record, copying the shared records into each process costs what it saves.
    collecting = gc.isenabled()
    gc.disable()  # millions of new small objects, none cyclic: the collector would rescan them again and again
    try:
        size = len(records) if isinstance(records, Sized) else 0
        ids: list[int] = []
        features: list[Features] = []
        for index, (record_id, person) in enumerate(records):
            ids.append(record_id)
            features.append(prepare(person))
            if progress and size and index % 20_000 == 0:
                progress(index, size)
        pairs, oversized = candidate_pairs(features, max_block=max_block)
        matches, apart = _score_all(features, pairs, thresholds.review, workers=workers, progress=progress)
        n = len(features)
        auto, review = [], []
        for code, probability, reasons in matches:
            i, j = divmod(code, n)
            pair = ScoredPair(min(ids[i], ids[j]), max(ids[i], ids[j]), probability, reasons)
            (auto if probability >= thresholds.auto else review).append(pair)
        conflicts = frozenset((min(ids[i], ids[j]), max(ids[i], ids[j])) for i, j in (divmod(c, n) for c in apart))
        return DedupeResult(
            sorted(auto, key=_best_first), sorted(review, key=_best_first), conflicts, len(pairs), oversized
        )
    finally:
        if collecting:
            gc.enable()


def candidate_pairs(features: Sequence[Features], *, max_block: int = MAX_BLOCK) -> tuple[list[int], int]:
    """Pairs (encoded i * n + j, i < j) of records sharing a key, each once; and how many blocks were too big."""
    blocks: dict[int, int | list[int]] = {}
    for index, record in enumerate(features):
        for key in keys_of(record):
            # hashes stand in for the key strings, which would cost several times the memory; a collision
            # only adds a pair to compare
            digest = hash(key)
            held = blocks.get(digest)
            if held is None:
                blocks[digest] = index  # most keys are held by one record: no list for them
            elif isinstance(held, int):
                blocks[digest] = [held, index]
            else:
                held.append(index)
    n = len(features)
    pairs: set[int] = set()
    oversized = 0
    for held in blocks.values():
        if isinstance(held, int):
            continue
        if len(held) > max_block:
            oversized += 1
            continue
        pairs.update(i * n + j for i, j in combinations(held, 2))
    return sorted(pairs), oversized


Matches = list[tuple[int, float, tuple[str, ...]]]  # (pair code, probability, reasons)


def _score_all(
    features: list[Features], pairs: list[int], review: float, *, workers: int, progress: Progress | None
) -> tuple[Matches, list[int]]:
    global _shared_features
    chunks = [(pairs[start : start + CHUNK], len(features), review) for start in range(0, len(pairs), CHUNK)]
    matches: Matches = []
    apart: list[int] = []
    done = 0
    if progress:
        progress(0, len(pairs))
    _shared_features = features
    try:
        if workers > 1 and len(pairs) > 4 * CHUNK and "fork" in multiprocessing.get_all_start_methods():
            # fork shares the prepared persons copy-on-write; spawning would pickle a million of them per worker
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.imap(_score_chunk, chunks)
                for chunk, (found, conflicting) in zip(chunks, results, strict=True):
                    matches.extend(found)
                    apart.extend(conflicting)
                    done += len(chunk[0])
                    if progress:
                        progress(done, len(pairs))
        else:
            for chunk in chunks:
                found, conflicting = _score_chunk(chunk)
                matches.extend(found)
                apart.extend(conflicting)
                done += len(chunk[0])
                if progress:
                    progress(done, len(pairs))
    finally:
        _shared_features = []
    return matches, apart


def _score_chunk(work: tuple[list[int], int, float]) -> tuple[Matches, list[int]]:
    """Pairs above the review threshold with their scores, and pairs found to be two people."""
    pairs, n, review = work
    features = _shared_features
    matches, apart = [], []
    for code in pairs:
        i, j = divmod(code, n)
        result = compare(features[i], features[j])
        if result.probability >= review:
            matches.append((code, result.probability, result.reasons))
        elif not CONFLICT_REASONS.isdisjoint(result.reasons):
            apart.append(code)
    return matches, apart


def _best_first(pair: ScoredPair) -> tuple[float, int, int]:
    return -pair.probability, pair.a_id, pair.b_id


def plan_merges(pairs: Iterable[ScoredPair], *, conflicts: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(survivor, absorbed) merges, best pairs first; two clusters join only if no pair across them conflicts."""
    # Joining on the single best link would let one wrong pair chain a household into one customer; a conflict
    # between any two members (Anna and Paul at one address) keeps the clusters apart. The survivor is the older
    # (smaller) id, so a merge keeps the longest history.
    known_apart = {(min(a, b), max(a, b)) for a, b in conflicts}
    root: dict[int, int] = {}
    members: dict[int, list[int]] = {}

    def find(record_id: int) -> int:
        while (parent := root.get(record_id, record_id)) != record_id:
            root[record_id] = root.get(parent, parent)  # path halving keeps lookups short
            record_id = parent
        return record_id

    plan: list[tuple[int, int]] = []
    for pair in sorted(pairs, key=_best_first):
        first, second = find(pair.a_id), find(pair.b_id)
        if first == second:
            continue
        left, right = members.get(first, [first]), members.get(second, [second])
        if any((min(x, y), max(x, y)) in known_apart for x in left for y in right):
            continue
        survivor, absorbed = min(first, second), max(first, second)
        root[absorbed] = survivor
        members[survivor] = left + right
        members.pop(absorbed, None)
        plan.append((survivor, absorbed))
    return plan
