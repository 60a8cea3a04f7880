"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from omniretail.bench.common import free_port
from omniretail.client import Client
from omniretail.core.errors import PROBLEM_JSON

TEST_SECRET = "a-long-enough-test-secret"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer with this status and code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


def error_fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body["errors"]]


@contextmanager
def served(database_url: str, *options: str) -> Iterator[str]:
    """Run `omniretail serve` on a free port against `database_url`; yield its base URL once ready."""
    port = free_port()
    env = {**os.environ, "OMNIRETAIL_DATABASE_URL": database_url, "OMNIRETAIL_SECRET_KEY": TEST_SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "omniretail.cli", "serve", "--port", str(port), *options], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("omniretail serve did not become ready within 30 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def api_client(server: str | httpx.Client, key: str) -> Client:
    """The typed client (`omniretail.client`) as `key`, for a served base URL or a `TestClient` (the app in-process,
    which then stays the caller's to close)."""
    if isinstance(server, str):
        return Client(server, key)
    return Client(key=key, http=server)
