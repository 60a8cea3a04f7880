"""POS sync over HTTP: a till uploads what it did while offline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from omniretail.core.deps import DB
from omniretail.core.schemas import PROBLEM_RESPONSES
from omniretail.core.security import Actor, Role, require
from omniretail.integration import pos
from omniretail.integration.pos_schemas import PosSyncIn, PosSyncOut

router = APIRouter(prefix="/api/v1/pos", tags=["pos"], responses=PROBLEM_RESPONSES)
Syncer = Annotated[Actor, Depends(require(Role.ADMIN, Role.OPERATIONS, Role.ASSOCIATE, Role.INTEGRATION))]


@router.post("/sync", response_model=PosSyncOut)
async def sync(body: PosSyncIn, request: Request, db: DB, actor: Syncer) -> PosSyncOut:
    """Upload the sales, returns and stock counts a till made while offline. Each entry is applied once (its
    `entry_id` is the till's own: sent again, it answers its first result and changes nothing), in the order of
    `at`, each in its own transaction: an entry the services refuse is answered `refused` with the problem's code
    and the others still apply. Units sold offline that were reserved online meanwhile are recorded as sold; the
    online orders are re-sourced to other locations, and what no location holds is answered `conflict` (event
    `pos.conflict`). Associates sync their own stores' tills; integration keys of channel `pos` any till.
    Refused as a whole (422, nothing applied): a batch of the wrong shape (`validation_error`, e.g. an unknown
    `kind`), `duplicate_entry_id`, `unknown_location`; 403 `location_out_of_scope`, `channel_out_of_scope`."""
    return await run_in_threadpool(pos.sync, db, actor=actor, batch=body, settings=request.app.state.settings)
