"""The batch duplicate pass over every profile (`omniretail customers dedupe`)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniretail.core import audit
from omniretail.core.clock import utcnow
from omniretail.core.db import Database, insert_ignore
from omniretail.core.security import Actor
from omniretail.customers import merging
from omniretail.customers.dedupe import find_duplicates, plan_merges
from omniretail.customers.matching import Person
from omniretail.customers.models import Address, Identity, Profile, Suggestion
from omniretail.customers.thresholds import thresholds

MERGES_PER_TRANSACTION = 500
PARALLEL_WRITERS = 2
Progress = Callable[[str, int, int], None]


@dataclass
class DedupeReport:
    profiles: int = 0
    auto_pairs: int = 0
    review_pairs: int = 0
    merged: int = 0
    queued: int = 0  # pairs newly queued (pairs already waiting are not counted again)
    already_decided: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def load_persons(session: Session, progress: Progress | None = None) -> Iterator[tuple[int, Person]]:
    """Every active profile as the matcher sees it, streamed in id order."""
    total = session.scalar(select(func.count()).select_from(Profile).where(Profile.status == "active")) or 0
    emails: dict[int, list[str]] = defaultdict(list)
    phones: dict[int, list[str]] = defaultdict(list)
    strong: dict[int, list[str]] = defaultdict(list)
    # Result.yield_per, not the execution option: a server-side cursor needs a transaction, and a read session
    # on PostgreSQL runs in autocommit.
    for pid, kind, value in session.execute(select(Identity.profile_id, Identity.type, Identity.value)
                                            ).yield_per(50_000):
        (emails if kind == "email" else phones if kind == "phone" else strong)[pid].append(
            value if kind in ("email", "phone") else f"{kind}:{value}")
    homes: dict[int, tuple] = {}
    query = select(Address.profile_id, Address.line1, Address.postcode, Address.city, Address.country,
                   Address.phone).order_by(Address.profile_id, Address.is_default.desc(), Address.id)
    for pid, line1, postcode, city, country, phone in session.execute(query).yield_per(50_000):
        if pid not in homes:
            homes[pid] = (line1, postcode, city, country)
        if phone and phone not in phones[pid]:
            phones[pid].append(phone)
    query = (select(Profile.id, Profile.given_name, Profile.family_name, Profile.date_of_birth)
             .where(Profile.status == "active").order_by(Profile.id))
    for done, (pid, given, family, born) in enumerate(session.execute(query).yield_per(50_000)):
        line1, postcode, city, country = homes.get(pid, (None, None, None, None))
        yield pid, Person(given_name=given, family_name=family, date_of_birth=born, emails=tuple(emails.get(pid, ())),
                          phones=tuple(phones.get(pid, ())), line1=line1, postcode=postcode, city=city,
                          country=country, strong_ids=tuple(strong.get(pid, ())))
        if progress is not None and done % 10_000 == 0:
            progress("load", done, total)
    if progress is not None:
        progress("load", total, total)


def _rooted(plan: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Point every absorbed profile straight at the profile its cluster ends in, so no pair's survivor is itself
    absorbed by another pair of the same pass."""
    into = {absorbed: survivor for survivor, absorbed in plan}

    def root(pid: int) -> int:
        seen = set()
        while pid in into and pid not in seen:
            seen.add(pid)
            pid = into[pid]
        return pid

    return sorted((root(absorbed), absorbed) for absorbed in into)


def _merge_all(db: Database, actor: Actor, plan: list[tuple[int, int]], best: dict[int, float],
               progress: Progress | None) -> int:
    """Merge the plan in transactions of MERGES_PER_TRANSACTION pairs. On PostgreSQL two run at once, so one
    transaction's Python work overlaps the other's round trips; each locks its profiles in id order, so two
    transactions that share a survivor wait for each other, never deadlock. SQLite takes one writer anyway."""
    chunks = [plan[i:i + MERGES_PER_TRANSACTION] for i in range(0, len(plan), MERGES_PER_TRANSACTION)]
    done, lock = 0, threading.Lock()

    def merge_chunk(chunk: list[tuple[int, int]]) -> None:
        nonlocal done
        with db.write() as session:
            merging.merge_many(session, actor=actor, source="dedupe", pairs=[(s, a, best.get(a)) for s, a in chunk])
        with lock:
            done += len(chunk)
            if progress is not None:
                progress("merge", done, len(plan))

    writers = PARALLEL_WRITERS if db.dialect == "postgresql" else 1
    with ThreadPoolExecutor(max_workers=writers) as pool:
        for finished in [pool.submit(merge_chunk, chunk) for chunk in chunks]:
            finished.result()
    return done


def dedupe(db: Database, *, actor: Actor, workers: int = 1, progress: Progress | None = None) -> DedupeReport:
    """Find duplicates among all profiles: merge the certain ones, queue the doubtful ones for review."""
    report, started = DedupeReport(), time.perf_counter()
    limits = thresholds()
    with db.read() as session:
        records = list(load_persons(session, progress))
        suggested = {(a, b): status for a, b, status in session.execute(
            select(Suggestion.a_id, Suggestion.b_id, Suggestion.status))}
    decided = {pair: status for pair, status in suggested.items() if status != "pending"}
    report.profiles = len(records)
    report.seconds["load"] = time.perf_counter() - started
    started = time.perf_counter()
    found = find_duplicates(records, limits, workers=workers,
                            progress=(lambda done, total: progress("match", done, total)) if progress else None)
    if progress is not None:
        progress("match", report.profiles, report.profiles)
    del records
    report.seconds["match"] = time.perf_counter() - started
    started = time.perf_counter()
    auto = [p for p in found.auto_pairs if (p.a_id, p.b_id) not in decided]
    review = [p for p in found.review_pairs if (p.a_id, p.b_id) not in decided]
    report.already_decided = len(found.auto_pairs) + len(found.review_pairs) - len(auto) - len(review)
    report.auto_pairs, report.review_pairs = len(auto), len(review)
    best: dict[int, float] = {}
    for p in auto:
        for pid in (p.a_id, p.b_id):
            best[pid] = max(best.get(pid, 0.0), p.probability)
    # a pair staff said are two people, or the matcher found to be two, keeps its clusters apart
    apart = found.conflict_pairs | {pair for pair, status in decided.items() if status == "rejected"}
    plan = _rooted(plan_merges(auto, conflicts=apart))
    report.merged = _merge_all(db, actor, plan, best, progress)
    merged_away = {a for _, a in plan}
    queue = [p for p in review if p.a_id not in merged_away and p.b_id not in merged_away
             and (p.a_id, p.b_id) not in suggested]
    now = utcnow()
    with db.write() as session:
        for start in range(0, len(queue), 5_000):
            insert_ignore(session, Suggestion.__table__, [
                {"a_id": p.a_id, "b_id": p.b_id, "probability": p.probability, "reasons": list(p.reasons),
                 "source": "dedupe", "status": "pending", "created_at": now} for p in queue[start:start + 5_000]],
                conflict=["a_id", "b_id"])
        report.queued = len(queue)
        audit.record(session, actor, "customer.dedupe_run", "customer", "*",
                     {"profiles": report.profiles, "merged": report.merged, "queued": report.queued})
    report.seconds["write"] = time.perf_counter() - started
    return report
