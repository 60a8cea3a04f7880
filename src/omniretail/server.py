"""Run the app under uvicorn."""

from __future__ import annotations

import uvicorn

from omniretail.app import create_app
from omniretail.core.config import Settings
from omniretail.core.db import Database


def run(settings: Settings, db: Database, *, host: str, port: int) -> None:
    uvicorn.run(create_app(settings, db), host=host, port=port, log_level="info", proxy_headers=True)
