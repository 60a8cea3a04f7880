"""`Idempotency-Key`: a retried or double-clicked request is carried out once.

The same key with the same method, path and body answers the first result again (same
status, same body, also when that result was a refusal); the same key with anything else is
409 `idempotency_key_reused`. Keys belong to the API key that sent them. The record is
written in the transaction of the change it describes, so a change and its key commit
together; two requests racing with one key meet on the key's primary key and the loser
answers the winner's result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniretail.core.clock import utcnow
from omniretail.core.db import Database
from omniretail.core.errors import PROBLEM_JSON, Conflict, DomainError, Invalid, TryAgain
from omniretail.core.models import IdempotencyRecord
from omniretail.core.security import Actor

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def _fingerprint(method: str, path: str, query: str, body: BaseModel | None) -> str:
    payload = body.model_dump_json() if body is not None else ""
    return hashlib.sha256(f"{method} {path}?{query}\n{payload}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if record.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was used for a different request", code="idempotency_key_reused")
    media = PROBLEM_JSON if record.status_code >= 400 else "application/json"
    return JSONResponse(record.response, status_code=record.status_code, media_type=media,
                        headers={"Idempotent-Replayed": "true"})


def record_fields(request: Request, actor: Actor, body: BaseModel | None) -> dict[str, Any] | None:
    """The identifying fields of the request's `Idempotency-Key` record (`owner`, `key`, `method`, `path`,
    `fingerprint`), None without the header; a malformed key is refused (422 `invalid_idempotency_key`)."""
    return fields_of(request.method, request.url.path, request.url.query, request.headers.get(HEADER), actor, body)


def fields_of(method: str, path: str, query: str, key: str | None, actor: Actor,
              body: BaseModel | None) -> dict[str, Any] | None:
    """`record_fields` from the request's parts (method, path, query string, the header's value)."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid(f"{HEADER} is 1 to {MAX_KEY_LENGTH} printable characters", field=HEADER,
                      code="invalid_idempotency_key")
    owner = f"key:{actor.key_id}" if actor.key_id is not None else actor.name
    return {"owner": owner, "key": key, "method": method, "path": path,
            "fingerprint": _fingerprint(method, path, query, body)}


TRIES = 3  # runs of a use case that met a concurrent change (`TryAgain`) before it is refused


def _retried(db: Database, use_case: Callable[[Session], BaseModel]) -> Callable[..., dict[str, Any]]:
    """Run `use_case` (then `then(session, result)`) in a write transaction, again when it raises `TryAgain`;
    the last time it is refused with 409 `concurrent_change`."""
    def run(then: Callable[[Session, dict[str, Any]], None]) -> dict[str, Any]:
        for _ in range(TRIES):
            try:
                with db.write() as session:
                    result = use_case(session).model_dump(mode="json")
                    then(session, result)
                    return result
            except TryAgain:
                continue
        raise Conflict("Other requests kept changing what this one needs; send it again",
                       code="concurrent_change")
    return run


def run_idempotent(request: Request, db: Database, actor: Actor, body: BaseModel | None, status_code: int,
                   use_case: Callable[[Session], BaseModel]) -> Any:
    """Run `use_case` in one write transaction, at most once per Idempotency-Key."""
    fields = record_fields(request, actor, body)
    run = _retried(db, use_case)
    if fields is None:
        return JSONResponse(run(lambda _session, _result: None), status_code=status_code)
    owner, key, fingerprint = fields["owner"], fields["key"], fields["fingerprint"]
    with db.read() as session:
        record = session.get(IdempotencyRecord, (owner, key))
        if record is not None:
            return _replay(record, fingerprint)

    def remember(session: Session, status: int, response: dict[str, Any]) -> None:
        session.add(IdempotencyRecord(**fields, status_code=status, response=response, created_at=utcnow()))

    try:
        try:
            result = run(lambda session, answer: remember(session, status_code, answer))
            return JSONResponse(result, status_code=status_code)
        except DomainError as refusal:
            with db.write() as session:
                remember(session, refusal.status, refusal.problem())
            raise
    except IntegrityError as exc:
        if "idempotency_keys" not in str(exc.orig):
            raise
        with db.read() as session:
            record = session.get(IdempotencyRecord, (owner, key))
        if record is None:
            raise
        return _replay(record, fingerprint)
