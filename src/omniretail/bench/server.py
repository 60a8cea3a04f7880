"""The API server a benchmark measures: `python -m omniretail.bench.server DATABASE_URL PORT`."""

from __future__ import annotations

import sys

import uvicorn

from omniretail.app import create_app
from omniretail.core.config import Settings
from omniretail.server import tune_gc


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    app = create_app(Settings(database_url=url, demo=True))
    tune_gc()  # as `omniretail serve` does
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
