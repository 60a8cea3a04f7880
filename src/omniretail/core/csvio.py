"""CSV import and export shared by every kind (products, locations, later stock, customers).

A file whose header is wrong loads nothing. Otherwise each row is all-or-nothing: good
rows load, bad rows are reported with their line number and reason. Rows are loaded in
batches for speed; if a batch fails as a whole (a concurrent writer took a SKU, say) it is
retried row by row so one row's failure never takes its neighbours with it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniretail.core.db import Database
from omniretail.core.errors import DomainError

BATCH_SIZE = 1000
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


class HeaderError(ValueError):
    """The file's header does not fit the kind; nothing was loaded."""


class RowProblem(ValueError):
    """One row cannot be loaded; the message says why."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.created + self.updated + self.unchanged


class ImportSpec(Protocol):
    kind: str
    required: frozenset[str]
    columns: tuple[str, ...]

    def parse(self, row: dict[str, str]) -> Any:
        """Turn a row into an item or raise `RowProblem` / a validation error."""

    def load(self, session: Session, items: list[tuple[int, Any]]) -> dict[int, str | RowError]:
        """Write items in the session; return per line `created`/`updated`/`unchanged` or a RowError."""

    def tables(self) -> list[str]:
        """Tables the import fills, whose planner statistics are refreshed afterwards."""


def reason_of(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return "; ".join(parts)
    if isinstance(exc, DomainError):
        return f"{exc.detail} ({exc.code})"
    return str(exc)


def check_header(fieldnames: list[str] | None, spec: ImportSpec) -> None:
    if not fieldnames:
        raise HeaderError("the file is empty; the first line must name the columns")
    names = [n.strip() for n in fieldnames]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    missing = sorted(spec.required - set(names))
    unknown = sorted(set(names) - set(spec.columns))
    problems = []
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    if duplicates:
        problems.append(f"repeated column(s): {', '.join(duplicates)}")
    if problems:
        raise HeaderError("; ".join(problems) + f". Columns of {spec.kind}: {', '.join(spec.columns)}")


def count_data_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return max(0, sum(1 for _ in handle) - 1)


def _rows(reader: csv.DictReader) -> Iterator[tuple[int, dict[str, str] | None]]:
    """(line, row) pairs; row is None when the record has too many or too few fields."""
    for row in reader:
        # The line where the record ends; a quoted field may span lines.
        if None in row or None in row.values():
            yield reader.line_num, None
            continue
        yield reader.line_num, {k.strip(): v.strip() for k, v in row.items()}


def import_csv(db: Database, path: Path, spec: ImportSpec, *, batch_size: int = BATCH_SIZE,
               progress: Callable[[int], None] | None = None) -> ImportReport:
    """Load a CSV file of one kind; see the module docstring for the guarantees."""
    report = ImportReport(kind=spec.kind)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            check_header(reader.fieldnames, spec)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise HeaderError(f"not a readable UTF-8 CSV file: {exc}") from None
        batch: list[tuple[int, Any]] = []
        try:
            for line, row in _rows(reader):
                report.rows += 1
                if progress is not None:
                    progress(1)
                if row is None:
                    report.errors.append(RowError(line, f"expected {len(reader.fieldnames or ())} fields"))
                    continue
                try:
                    batch.append((line, spec.parse(row)))
                except (RowProblem, ValidationError, DomainError, ValueError) as exc:
                    report.errors.append(RowError(line, reason_of(exc)))
                if len(batch) >= batch_size:
                    _load_batch(db, spec, batch, report)
                    batch = []
        except (csv.Error, UnicodeDecodeError) as exc:
            report.errors.append(RowError(reader.line_num + 1, f"unreadable UTF-8 CSV from here on: {exc}"))
        _load_batch(db, spec, batch, report)
    if report.created or report.updated:
        db.analyze(spec.tables())
    report.errors.sort(key=lambda e: e.line)
    return report


def _tally(report: ImportReport, outcome: str | RowError) -> None:
    if isinstance(outcome, RowError):
        report.errors.append(outcome)
    elif outcome == CREATED:
        report.created += 1
    elif outcome == UPDATED:
        report.updated += 1
    else:
        report.unchanged += 1


def _load_batch(db: Database, spec: ImportSpec, batch: list[tuple[int, Any]], report: ImportReport) -> None:
    if not batch:
        return
    try:
        with db.write() as session:
            outcomes = spec.load(session, batch)
    except (IntegrityError, DomainError):
        outcomes = {}
        for line, item in batch:
            try:
                with db.write() as session:
                    outcomes.update(spec.load(session, [(line, item)]))
            except (IntegrityError, DomainError) as exc:
                outcomes[line] = RowError(line, reason_of(exc) if isinstance(exc, DomainError)
                                          else "conflicts with data written at the same time")
    for outcome in outcomes.values():
        _tally(report, outcome)


def write_csv(out: TextIO, columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> int:
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="raise")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def parse_bool(value: str, *, column: str) -> bool:
    text = value.strip().lower()
    if text in ("", "0", "false", "no", "n", "f"):
        return False
    if text in ("1", "true", "yes", "y", "t"):
        return True
    raise RowProblem(f"{column}: {value!r} is not true/false")


def optional(value: str) -> str | None:
    return value if value != "" else None


