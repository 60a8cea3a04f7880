"""Bulk writes for imports: COPY on PostgreSQL, executemany on SQLite, inside the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """Reserve `count` primary keys for rows about to be bulk-inserted."""
    if count == 0:
        return []
    if _dialect(session) == "postgresql":
        sequence = session.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
        return list(session.scalars(text("SELECT nextval(CAST(:s AS regclass)) FROM generate_series(1, :n)"),
                                    {"s": sequence, "n": count}))
    # SQLite write transactions hold the database lock (BEGIN IMMEDIATE): nobody else takes ids meanwhile.
    start = (session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def _copy_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows with the same keys; COPY on PostgreSQL."""
    if not rows:
        return
    if _dialect(session) != "postgresql":
        session.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    quoted = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([_copy_value(row[c]) for c in columns])
