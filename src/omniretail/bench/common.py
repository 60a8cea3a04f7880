"""Shared pieces of the benchmarks: throwaway databases, a server process, latency statistics."""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from rich.console import Console
from sqlalchemy.engine import make_url

from omniretail.core.config import normalise_database_url


@contextmanager
def throwaway_database(server_url: str | None) -> Iterator[str]:
    """A fresh database for one run: a temporary SQLite file, or a new database on a PostgreSQL server."""
    if server_url is None or server_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="omniretail-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    import psycopg

    url = make_url(normalise_database_url(server_url))
    name = f"omniretail_bench_{os.getpid()}_{int(time.time())}"
    admin = url.set(drivername="postgresql", database=url.database or "postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def api_server(database_url: str, workers: int = 1) -> Iterator[str]:
    """Run `omniretail.bench.server` in its own process (`workers` processes on one port, as `serve --workers`);
    yield its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "omniretail.bench.server", database_url, str(port), str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"benchmark server did not start: {output}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class ApiClient:
    """A minimal keep-alive HTTP/1.1 client (stdlib), so the figures are the server's, not a client library's."""

    def __init__(self, base_url: str, key: str) -> None:
        parsed = urlsplit(base_url)
        self._conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=30)
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url = path + ("?" + urlencode(params) if params else "")
        self._conn.request("GET", url, headers=self._headers)
        response = self._conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url} answered {response.status}: {body[:300]!r}")
        return json.loads(body)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST JSON; returns (status, parsed body). Any 5xx is an error of the benchmark run."""
        self._conn.request("POST", path, body=json.dumps(body).encode(),
                           headers={**self._headers, "Content-Type": "application/json"})
        response = self._conn.getresponse()
        payload = response.read()
        if response.status >= 500:
            raise RuntimeError(f"POST {path} answered {response.status}: {payload[:300]!r}")
        return response.status, json.loads(payload)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._conn.close()


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds (nearest-rank percentiles)."""
    ordered = sorted(samples_s)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[min(n - 1, max(0, int(round(p / 100 * n + 0.5)) - 1))] * 1000

    return {"n": n, "p50_ms": round(rank(50), 3), "p95_ms": round(rank(95), 3), "p99_ms": round(rank(99), 3),
            "max_ms": round(ordered[-1] * 1000, 3), "mean_ms": round(sum(ordered) / n * 1000, 3)}


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")


def pgbench(url: str, clients: int, seconds: int, console: Console) -> dict[str, Any]:
    """pgbench TPC-B-like (scale 10) in a scratch database on the server of `url`, dropped afterwards: the
    reference rate the benchmarks compare themselves with, measured in the same run."""
    parsed = make_url(normalise_database_url(url))
    name = f"omniretail_pgbench_{int(time.time())}"
    base = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    subprocess.run(["createdb", *base, name], check=True)
    try:
        subprocess.run(["pgbench", *base, "-i", "-q", "-s", "10", name], check=True, capture_output=True)
        run = subprocess.run(["pgbench", *base, "-c", str(clients), "-j", "2", "-T", str(seconds), name],
                             check=True, capture_output=True, text=True)
    finally:
        subprocess.run(["dropdb", *base, "--force", name], check=False)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    tps = float(match.group(1)) if match else 0.0
    console.print(f"pgbench TPC-B-like, scale 10, {clients} clients, {seconds} s: {tps:,.0f} tps")
    return {"clients": clients, "seconds": seconds, "scale": 10, "tps": round(tps, 1)}
