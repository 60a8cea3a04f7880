"""Bulk writes (imports, batch merges): COPY and unnest() on PostgreSQL, executemany on SQLite, inside the
caller's transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Column, Table, any_, bindparam, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from omniretail.core.db import Base


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


def update_from_rows(session: Session, table: str, match: str, assign: dict[str, str],
                     columns: dict[str, tuple[str, list[Any]]], constants: dict[str, Any] | None = None) -> None:
    """One set-based UPDATE of `table` from rows given column-wise: `m.<name>` in `match`/`assign` is a row's value.

    PostgreSQL joins the rows as unnest() of typed arrays (one statement, a fixed text, so it is prepared once);
    SQLite, in-process, runs the same UPDATE once per row. Table and column names come from the models, never
    from input."""
    constants = constants or {}
    target = Base.metadata.tables[table]
    sets = ", ".join([f"{column} = m.{source}" for column, source in assign.items()]
                     + [f"{name} = :{name}" for name in constants])
    typed = [bindparam(name, type_=target.c[name].type) for name in constants]  # e.g. UTC times as stored
    if _dialect(session) == "postgresql":
        arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, (kind, _) in columns.items())
        sql = f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS m({', '.join(columns)}) WHERE {match}"
        session.execute(text(sql).bindparams(*typed), {name: v for name, (_, v) in columns.items()} | constants)
        return
    row_sql = re.sub(r"\bm\.(\w+)", r":\1", f"UPDATE {table} SET {sets} WHERE {match}")
    typed += [bindparam(column, type_=target.c[column].type) for column, source in assign.items()
              if source == column]
    names = list(columns)
    session.execute(text(row_sql).bindparams(*typed), [
        dict(zip(names, row, strict=True)) | constants
        for row in zip(*(values_ for _, values_ in columns.values()), strict=True)])


def among(session: Session, column: Any, ids: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `column = ANY(:array)`, one parameter however many ids (an IN list of a
    thousand values costs more to render than to run)."""
    if _dialect(session) == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(ids))


def _array_type(column: Column[Any]) -> str | None:
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, JSON):
        return None  # arrays of JSON would need each value wrapped; such rows go one by one
    return kind.compile(dialect=postgresql.dialect())


def array_types(table: Table, columns: list[str]) -> list[str] | None:
    """The PostgreSQL array element types of `columns`, or None if one of them cannot travel in an array."""
    kinds = [_array_type(table.c[name]) for name in columns]
    return None if None in kinds else kinds  # type: ignore[return-value]


def insert_ignore_arrays(session: Session, table: Table, rows: list[dict[str, Any]], *, conflict: list[str]) -> None:
    """PostgreSQL: insert rows given as one array per column, skipping those that collide on `conflict`."""
    columns = list(rows[0])
    kinds = array_types(table, columns)
    assert kinds is not None
    arrays = ", ".join(f"CAST(:c{i} AS {kind}[])" for i, kind in enumerate(kinds))
    names = ", ".join(f'"{c}"' for c in columns)
    sql = (f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({arrays}) '
           f'ON CONFLICT ({", ".join(conflict)}) DO NOTHING')
    session.execute(text(sql), {f"c{i}": [row[c] for row in rows] for i, c in enumerate(columns)})


def delete_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Delete the rows whose columns equal one of `rows` (all with the same keys): one statement on PostgreSQL."""
    if not rows:
        return
    columns = list(rows[0])
    kinds = array_types(table, columns)
    if _dialect(session) == "postgresql" and kinds is not None:
        arrays = ", ".join(f"CAST(:c{i} AS {kind}[])" for i, kind in enumerate(kinds))
        match = " AND ".join(f'"{table.name}"."{c}" = m.c{i}' for i, c in enumerate(columns))
        aliases = ", ".join(f"c{i}" for i in range(len(columns)))
        sql = f'DELETE FROM "{table.name}" USING unnest({arrays}) AS m({aliases}) WHERE {match}'
        session.execute(text(sql), {f"c{i}": [row[c] for row in rows] for i, c in enumerate(columns)})
        return
    condition = [table.c[c] == bindparam(f"c_{c}") for c in columns]
    session.execute(table.delete().where(*condition), [{f"c_{c}": row[c] for c in columns} for row in rows])
