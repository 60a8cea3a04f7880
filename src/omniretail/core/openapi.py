"""What the OpenAPI document says about `Idempotency-Key`, written where it is implemented.

Routes read the header through `core.idempotency.run_idempotent` rather than as a declared parameter, so the
document would not show it. Every route whose endpoint calls `run_idempotent` gets the header as an optional
parameter and `idempotency_key_reused` among its documented 409 codes; clients (`omniretail.client`) know from
this which calls may be retried safely.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from omniretail.core.idempotency import HEADER, MAX_KEY_LENGTH
from omniretail.core.schemas import problem

REUSED = "`idempotency_key_reused`"
PARAMETER: dict[str, Any] = {
    "name": HEADER, "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "description": "Sent again with the same body: the first result (same status, same body, header "
                   "`Idempotent-Replayed: true`); with another body: 409 `idempotency_key_reused`"}


def is_idempotent(route: APIRoute) -> bool:
    """Whether the route's endpoint runs its use case through `run_idempotent`."""
    return "run_idempotent" in route.endpoint.__code__.co_names


def document_idempotency(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Declare the `Idempotency-Key` header and its 409 on every operation of `routers` that honours it."""
    honoured = {(route.path, method.lower()) for router in routers for route in router.routes
                if isinstance(route, APIRoute) and is_idempotent(route) for method in route.methods}
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # made once and kept by FastAPI: amending it is done once too
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if (path, method) not in honoured:
                    continue
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == HEADER and p.get("in") == "header" for p in parameters):
                    parameters.append(PARAMETER)
                responses = operation.setdefault("responses", {})
                conflict = responses.get("409")
                if conflict is None:
                    responses["409"] = problem(REUSED)
                elif REUSED not in conflict.get("description", ""):
                    responses["409"] = {**conflict, "description": f"{conflict.get('description', '')}, {REUSED}"}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
