"""Domain errors with stable codes, rendered as RFC 9457 problem+json at the edge."""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """Base of every error a user can cause; `code` is stable and machine-readable."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        # Extra members never overwrite the standard ones.
        return {**self.extra, "type": f"/problems/{self.code}", "title": self.title, "status": self.status,
                "code": self.code, "detail": self.detail}


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class Invalid(DomainError):
    """A value is well-formed JSON of the right type but not acceptable."""

    status, code, title = 422, "invalid", "Unprocessable content"

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra.setdefault("errors", [{"field": field, "message": detail, "code": code or self.code}])
        super().__init__(detail, code=code, **extra)


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class TryAgain(Exception):  # noqa: N818 - an instruction, not a failure
    """A concurrent change took what this transaction counted on (e.g. a location's last units of delivery
    capacity today): nothing it wrote is kept, and the use case is run again from the start
    (`idempotency.run_idempotent`)."""


#: Unique constraints whose violation (e.g. a race between two creators) maps to a known error.
_CONSTRAINT_ERRORS: dict[str, tuple[str, str]] = {}


def register_unique_constraint(*markers: str, code: str, detail: str) -> None:
    """Map a database uniqueness violation to a stable code.

    `markers` are the substrings the backends put in their messages: the constraint name
    (PostgreSQL) and `table.column` (SQLite).
    """
    for marker in markers:
        _CONSTRAINT_ERRORS[marker] = (code, detail)


def conflict_from_integrity_error(message: str) -> Conflict:
    for marker, (code, detail) in _CONSTRAINT_ERRORS.items():
        if marker in message:
            return Conflict(detail, code=code)
    return Conflict("The change conflicts with data written at the same time; retry", code="conflict")
