"""The API server a benchmark measures: `python -m omniretail.bench.server DATABASE_URL PORT [WORKERS]`."""

from __future__ import annotations

import os
import sys

import uvicorn
from fastapi import FastAPI

from omniretail.app import create_app
from omniretail.core.config import Settings
from omniretail.server import tune_gc

URL_VARIABLE = "OMNIRETAIL_BENCH_DATABASE_URL"


def bench_app() -> FastAPI:
    """The app one server process runs (demo settings: no secret key needed), tuned as `omniretail serve` is."""
    app = create_app(Settings(database_url=os.environ[URL_VARIABLE], demo=True))
    tune_gc()
    return app


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.environ[URL_VARIABLE] = url
    uvicorn.run("omniretail.bench.server:bench_app", factory=True, workers=workers if workers > 1 else None,
                host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
