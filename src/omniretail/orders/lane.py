"""The direct lane for `POST /api/v1/orders`: the busiest route of every channel, served without the framework's
routing and dependency machinery when nothing about the request needs them.

The lane does what the route does, with the route's own pieces: the bearer key is looked up in the
authentication cache (`security.auth_cache`), the role admitted by the route's `PLACERS`, the body parsed by
`OrderIn`, client prices refused by the route's own check, the `Idempotency-Key` record made by
`idempotency.fields_of`, and the order placed by `fastpath.place`. Anything else — a key not cached yet, a role
the route refuses, a body that does not parse, a refused price, a bad key header, an order the fast path hands
back — goes on to the framework with the body untouched, which answers it exactly as it always does (problems,
401/403/422, the transactional path). So the lane answers only 201 for an order it placed, and 409
`insufficient_stock` for one the fast path refused as the transactional path would (`orders.refusals`).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from omniretail.core.errors import DomainError
from omniretail.core.http import domain_problem
from omniretail.core.idempotency import HEADER, fields_of
from omniretail.core.middleware import read_body, replaying
from omniretail.core.security import auth_cache, hash_key
from omniretail.orders import fastpath
from omniretail.orders.schemas import OrderIn

PATH = "/api/v1/orders"
MAX_BODY = 256 * 1024  # larger bodies go the framework's way (and its limits)
_AUTHORIZATION, _KEY = b"authorization", HEADER.lower().encode()
TRIED = "order_fastpath_tried"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class OrderLane:
    """ASGI middleware in front of the routes (inside the NUL guard, which has read the body already)."""

    def __init__(self, app: Any, state: Any) -> None:
        from omniretail.orders import api  # the route's own rules (api imports this module)

        self.app = app
        self.state = state
        self.placers, self.refuse_client_prices = api.PLACERS, api.refuse_client_prices

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH \
                or scope.get("query_string") or self.state.db.dialect != "postgresql":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)  # one message: the NUL guard outside has read it already
        if body is None:
            return
        try:
            answer = None if len(body) > MAX_BODY else await self._place(scope, body)
        except DomainError as refusal:  # a refusal the fast path is sure of (`orders.refusals`)
            await domain_problem(refusal)(scope, receive, send)
            return
        if answer is not None:
            payload = orjson.dumps(answer)
            await send({"type": "http.response.start", "status": 201,
                        "headers": _JSON_HEADERS + [(b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        await self.app(scope, replaying(receive, body), send)

    async def _place(self, scope: dict[str, Any], raw: bytes) -> dict[str, Any] | None:
        headers = dict(scope["headers"])  # a repeated header: the framework decides
        if len(headers) != len(scope["headers"]):
            return None
        scheme, _, token = headers.get(_AUTHORIZATION, b"").decode("latin-1").partition(" ")
        actor = auth_cache.get(hash_key(token)) if scheme.lower() == "bearer" and token else None
        if actor is None or actor.role not in self.placers:
            return None
        try:
            body = OrderIn.model_validate_json(raw)
            self.refuse_client_prices(body)
            key = headers.get(_KEY)
            idempotency = fields_of("POST", PATH, "", None if key is None else key.decode("latin-1"), actor, body)
        except (ValidationError, DomainError, UnicodeDecodeError):
            return None
        answer = await fastpath.place(self.state.db, actor=actor, body=body, settings=self.state.settings,
                                      idempotency=idempotency)
        if answer is None:  # the route goes straight to the transactional path
            scope.setdefault("state", {})[TRIED] = True
        return answer
