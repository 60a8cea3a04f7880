"""Run the app under uvicorn."""

from __future__ import annotations

import gc

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
    """Serve in this process, or in `workers` processes sharing the port (each its own app and connections)."""
    if workers > 1:
        db.dispose()
        uvicorn.run("omniretail.server:worker_app", factory=True, workers=workers, host=host, port=port,
                    log_level="info", proxy_headers=True)
        return
    app = create_app(settings, db)
    tune_gc()
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
