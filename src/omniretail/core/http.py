"""Map every error to problem+json: domain errors, validation, malformed JSON, routing."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from omniretail.core.errors import PROBLEM_JSON, DomainError, conflict_from_integrity_error

log = logging.getLogger("omniretail.http")

BODY_PARSE_ERROR = "There was an error parsing the body"
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def problem_response(status: int, code: str, title: str, detail: str, *, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "code": code, "detail": detail}
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
#: Codes our own validators raise (not pydantic's): a request refused only for one of them answers with that code,
#: as the same refusal by a service does (e.g. `price_not_accepted` from a schema and from the orders service).
DOMAIN_FIELD_CODES = frozenset({"price_not_accepted"})


def _field_path(loc: tuple[Any, ...]) -> str:
    """`price.amount`, not `body.price.amount`: the same name the service uses for the field."""
    parts = list(loc[1:]) if loc and loc[0] in _LOCATIONS and len(loc) > 1 else list(loc)
    return ".".join(str(part) for part in parts)


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    errors = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        errors.append({"field": _field_path(tuple(err.get("loc", ()))), "message": err.get("msg", ""),
                       "code": err.get("type", "invalid")})
    if malformed:
        return problem_response(
            422, "malformed_json", "Malformed JSON", "The request body is not valid JSON", errors=errors
        )
    fields = ", ".join(e["field"] for e in errors)
    codes = {e["code"] for e in errors}
    if len(codes) == 1 and codes <= DOMAIN_FIELD_CODES:
        return problem_response(422, codes.pop(), "Unprocessable content", errors[0]["message"], errors=errors)
    return problem_response(
        422, "validation_error", "Validation failed", f"Invalid or missing fields: {fields}", errors=errors
    )


def domain_problem(exc: DomainError) -> JSONResponse:
    """The problem+json answer to a domain error."""
    body = exc.problem()
    return problem_response(body.pop("status"), body.pop("code"), body.pop("title"), body.pop("detail"),
                            **{k: v for k, v in body.items() if k != "type"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == BODY_PARSE_ERROR:
            # FastAPI's answer to a body that is not even text (e.g. not UTF-8): malformed like bad JSON.
            return problem_response(422, "malformed_json", "Malformed JSON", "The request body is not valid JSON")
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem_response(exc.status_code, code, code.replace("_", " ").capitalize(), detail,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        conflict = conflict_from_integrity_error(str(exc.orig))
        body = conflict.problem()
        return problem_response(409, body["code"], body["title"], body["detail"])

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc.orig)
        return problem_response(503, "database_unavailable", "Service unavailable",
                                "The database did not answer in time; retry shortly")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem_response(500, "internal_error", "Internal server error",
                                "An unexpected error occurred; it has been logged")
