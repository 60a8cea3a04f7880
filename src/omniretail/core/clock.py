"""The one place that asks what time it is, so tests can move time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; naive values from SQLite are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@contextmanager
def travel(by: timedelta) -> Iterator[None]:
    """Move this process's clock by `by` for the duration of the block (tests, demo data)."""
    global _offset
    before = _offset
    _offset = before + by
    try:
        yield
    finally:
        _offset = before
