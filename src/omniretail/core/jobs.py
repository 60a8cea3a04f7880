"""Periodic jobs the worker runs beside the outbox relay (release confirmed orders to fulfilment, expire
uncollected pickups, ...): each domain registers its own; several workers may run them at once, so each job
is safe to run concurrently (it locks or skips what another worker holds)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from omniretail.core.db import Database

log = logging.getLogger("omniretail.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Database], int]  # returns how much it did (0: nothing)
    every_seconds: float


JOBS: list[Job] = []


def register_job(name: str, run: Callable[[Database], int], *, every_seconds: float) -> None:
    """Have the worker call `run(db)` about every `every_seconds`."""
    if all(job.name != name for job in JOBS):
        JOBS.append(Job(name, run, every_seconds))


class Schedule:
    """When each job last ran, for one worker."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}

    def run_due(self, db: Database) -> int:
        """Run the jobs whose time has come; a failing job is logged and tried again next time."""
        done = 0
        for job in list(JOBS):
            now = self._clock()
            if now - self._last.get(job.name, float("-inf")) < job.every_seconds:
                continue
            self._last[job.name] = now
            try:
                done += job.run(db)
            except Exception:  # noqa: BLE001 - one failing job must not stop the others or the relay
                log.exception("job %s failed", job.name)
        return done
