"""`omniretail bench identity`: duplicate-detection quality, `identify` latency and the batch pass at scale.

Targets (issue 4): F1 ≥ 0.95 on labelled person records with realistic errors (against an
exact-match baseline); `identify` p95 < 15 ms through the HTTP API with 1,000,000 profiles;
the batch duplicate pass over 1,000,000 profiles < 5 minutes on 2 cores.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from omniretail.bench.common import ApiClient, api_server, machine, percentiles, throwaway_database, write_json
from omniretail.core import migrate
from omniretail.core.db import Database
from omniretail.core.security import SYSTEM, Role
from omniretail.customers import batch, bulkload, dataset, quality
from omniretail.customers.matching import Person
from omniretail.keys import service as keys

CHANNELS = ("web", "app", "pos", "call_centre", "messenger")
SEED_CHUNK = 20_000
WARMUP = 50


def _quality(people: int, console: Console) -> dict[str, Any]:
    console.print(f"quality: {people} generated people and the FEBRL sets …")
    report = quality.quality_report(n_people=people, seed=1)
    table = Table("data set", "method", "precision", "recall", "F1", title="duplicate detection")
    for name, methods in report.items():
        if not isinstance(methods, dict):
            continue
        for method, m in methods.items():
            if isinstance(m, dict) and "f1" in m:
                table.add_row(name, method, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}")
    console.print(table)
    return report


def _seed(db: Database, profiles: int, console: Console) -> list[tuple[int, Person]]:
    """Load `profiles` generated people; return a sample of (id, person) to build requests from."""
    rng, sample = random.Random(7), []
    loaded, chunk_seed = 0, 1000
    with Progress(TextColumn("seeding profiles"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("profiles", total=profiles)
        while loaded < profiles:
            records = dataset.generate(max(100, SEED_CHUNK * 3 // 4), seed=chunk_seed)[:profiles - loaded]
            chunk_seed += 1
            people = [r.person for r in records]
            with db.write() as s:
                ids = bulkload.load_people(s, people, channels=CHANNELS, actor="bench")
            for pid, person in zip(ids, people, strict=True):
                if rng.random() < 0.01:
                    sample.append((pid, person))
            loaded += len(people)
            bar.update(task, completed=loaded)
    db.analyze(["customers", "customer_identities", "customer_addresses", "customer_keys", "customer_timeline"])
    return sample


def _variant(person: Person, rng: random.Random) -> Person:
    """The same person seen by another channel: a typo in the family name, no identities."""
    family = person.family_name or "x"
    if len(family) > 3:
        i = rng.randrange(1, len(family) - 1)
        family = family[:i] + family[i + 1] + family[i] + family[i + 2:]
    return replace(person, family_name=family, emails=(), phones=(), strong_ids=())


def _body(person: Person, *, identities: bool, channel: str) -> dict[str, Any]:
    ids = []
    if identities:
        ids += [{"type": "email", "value": e} for e in person.emails[:1]]
        ids += [{"type": "phone", "value": p} for p in person.phones[:1]]
    attributes: dict[str, Any] = {k: v for k, v in {"given_name": person.given_name,
                                                   "family_name": person.family_name,
                                                   "date_of_birth": person.date_of_birth.isoformat()
                                                   if person.date_of_birth else None}.items() if v}
    if person.line1 and person.city and person.country and person.postcode:
        attributes["address"] = {"line1": person.line1, "city": person.city, "postcode": person.postcode,
                                 "country": person.country}
    return {"channel": channel, "identities": ids, "attributes": attributes}


def _requests(sample: list[tuple[int, Person]], n: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(11)
    fresh = [r.person for r in dataset.generate(max(50, n // 4), seed=999_999)]
    plan = []
    for i in range(n):
        kind = rng.random()
        channel = rng.choice(CHANNELS)
        _, person = rng.choice(sample)
        if kind < 0.4 and person.emails:
            plan.append(("known e-mail", _body(person, identities=True, channel=channel)))
        elif kind < 0.6 and person.phones:
            plan.append(("known phone", {"channel": channel, "identities": [{"type": "phone",
                                                                            "value": person.phones[0]}]}))
        elif kind < 0.8:
            plan.append(("new person", _body(fresh[i % len(fresh)], identities=True, channel=channel)))
        else:
            plan.append(("typo, no identity", _body(_variant(person, rng), identities=False, channel=channel)))
    return plan


def _identify(url: str, keys_by_channel: dict[str, str], plan: list[tuple[str, dict[str, Any]]],
              console: Console) -> dict[str, Any]:
    """Each channel's integration key sends that channel's requests, one at a time, over keep-alive connections."""
    samples: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    with api_server(url) as base:
        clients = {channel: ApiClient(base, key) for channel, key in keys_by_channel.items()}
        try:
            for _, body in plan[:WARMUP]:
                clients[body["channel"]].post("/api/v1/customers/identify", body)
            with Progress(TextColumn("identify"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console) as bar:
                task = bar.add_task("requests", total=len(plan))
                for kind, body in plan:
                    start = time.perf_counter()
                    status, answer = clients[body["channel"]].post("/api/v1/customers/identify", body)
                    elapsed = time.perf_counter() - start
                    samples.setdefault(kind, []).append(elapsed)
                    samples.setdefault("all", []).append(elapsed)
                    outcome = str(status) if status < 400 else f"{status} {answer.get('code')}"
                    statuses[outcome] = statuses.get(outcome, 0) + 1
                    bar.advance(task)
        finally:
            for client in clients.values():
                client.__exit__()
    return {"latency": {kind: percentiles(values) for kind, values in samples.items()}, "statuses": statuses}


def run_identity_bench(*, database: str | None, profiles: int, requests: int, workers: int, quality_people: int,
                       output: Path, console: Console) -> dict[str, Any]:
    result: dict[str, Any] = {"machine": machine(), "profiles": profiles}
    result["quality"] = _quality(quality_people, console)
    with throwaway_database(database) as url:
        db = Database(url)
        migrate.upgrade(db)
        result["database"] = db.dialect
        started = time.perf_counter()
        sample = _seed(db, profiles, console)
        result["seed_seconds"] = round(time.perf_counter() - started, 1)
        with db.write() as s:
            channel_keys = {channel: keys.create_key(s, actor=SYSTEM, role=Role.INTEGRATION, name=f"bench {channel}",
                                                     channel=channel)[1] for channel in CHANNELS}
        result["identify"] = _identify(url, channel_keys, _requests(sample, requests), console)
        started = time.perf_counter()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            tasks: dict[str, Any] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(f"dedupe: {phase}", total=total or None)
                bar.update(tasks[phase], completed=done, total=total or None)

            report = batch.dedupe(db, actor=SYSTEM, workers=workers, progress=progress)
        result["dedupe"] = {"seconds": round(time.perf_counter() - started, 1), "workers": workers,
                            "phases": {k: round(v, 1) for k, v in report.seconds.items()},
                            "profiles": report.profiles, "merged": report.merged, "queued": report.queued}
        db.dispose()
    _print(result, console)
    write_json(output, result)
    return result


def _print(result: dict[str, Any], console: Console) -> None:
    table = Table("identify", "n", "p50 ms", "p95 ms", "p99 ms", title=f"{result['profiles']:,} profiles on "
                  f"{result['database']}")
    for kind, p in result["identify"]["latency"].items():
        table.add_row(kind, str(p["n"]), f"{p['p50_ms']:.2f}", f"{p['p95_ms']:.2f}", f"{p['p99_ms']:.2f}")
    console.print(table)
    console.print("answers: " + ", ".join(f"{n} × {outcome}" for outcome, n in result["identify"]["statuses"].items()))
    d = result["dedupe"]
    console.print(f"batch pass: {d['profiles']:,} profiles in {d['seconds']} s on {d['workers']} workers "
                  f"({', '.join(f'{k} {v} s' for k, v in d['phases'].items())}); {d['merged']:,} merged, "
                  f"{d['queued']:,} queued for review")
