"""The API server a benchmark measures: `python -m omniretail.bench.server DATABASE_URL PORT [WORKERS]`.

It runs the app as `omniretail serve --workers N` does (`omniretail.server.worker_app`), on demo settings
(no secret key needed) and without access logs.
"""

from __future__ import annotations

import os
import sys

import uvicorn


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.environ.update(OMNIRETAIL_DATABASE_URL=url, OMNIRETAIL_DEMO="true")
    uvicorn.run("omniretail.server:worker_app", factory=True, workers=workers if workers > 1 else None,
                host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
