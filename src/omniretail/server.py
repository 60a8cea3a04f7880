"""Run the app under uvicorn."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from omniretail.app import create_app
from omniretail.core.config import Settings
from omniretail.core.db import Database


def tune_gc() -> None:
    """Keep the garbage collector off the request path: what was loaded at start (modules, the app, caches) is
    frozen out of its generations, and young objects are collected in larger batches, so a request rarely pays
    for a full collection (these were the slowest requests of the latency benchmarks)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def worker_app() -> FastAPI:
    """The app of one worker process of `serve --workers N`: settings from the environment, as `serve` reads them."""
    app = create_app()
    tune_gc()
    return app


def run(settings: Settings, db: Database, *, host: str, port: int, workers: int = 1) -> None:
    """Serve in this process, or in `workers` processes sharing the port (each its own app and connections).
    Unless `settings.relay` is off, the outbox relay runs in a thread of this process (one per `serve`)."""
    if workers > 1:
        db.dispose()
        with _relay(settings, db):
            uvicorn.run("omniretail.server:worker_app", factory=True, workers=workers, host=host, port=port,
                        log_level="info", proxy_headers=True)
        return
    app = create_app(settings, db)
    tune_gc()
    with _relay(settings, db):
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


@contextmanager
def _relay(settings: Settings, db: Database) -> Iterator[None]:
    if not settings.relay:
        yield
        return
    from omniretail.integration.worker import BackgroundRelay

    relay = BackgroundRelay(db, settings).start()
    try:
        yield
    finally:
        relay.stop()
