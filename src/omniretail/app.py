"""The FastAPI application: every domain's router, error handling and the start page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from omniretail import __version__
from omniretail.carts.api import router as carts_router
from omniretail.catalog.api import router as catalog_router
from omniretail.channels.api import router as channels_router
from omniretail.core.config import Settings, get_settings
from omniretail.core.db import Database
from omniretail.core.http import install_error_handlers
from omniretail.core.middleware import NulGuard
from omniretail.core.openapi import document_idempotency
from omniretail.customers.api import router as customers_router
from omniretail.customers.privacy_api import router as customer_privacy_router
from omniretail.fulfilment.api import router as fulfilment_router
from omniretail.integration.api import router as webhooks_router
from omniretail.integration.pos_api import router as pos_router
from omniretail.inventory.api import router as inventory_router
from omniretail.inventory.transfer_api import router as transfers_router
from omniretail.keys.api import router as keys_router
from omniretail.locations.api import router as locations_router
from omniretail.loyalty.api import router as loyalty_router
from omniretail.orders.api import router as orders_router
from omniretail.orders.lane import OrderLane
from omniretail.sourcing.api import router as sourcing_router
from omniretail.system.api import router as system_router
from omniretail.web.pages import router as pages_router

DESCRIPTION = """
One catalogue, one stock picture, one customer, one cart and one order pipeline for
every sales channel. Authenticate with `Authorization: Bearer <key>` (make one with
`omniretail keys create --role admin`). Errors are `application/problem+json` with a
stable `code`.
"""


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Route functions run in a thread pool; a few threads keep a core busy while others wait for the
        # database, dozens mostly queue for the interpreter lock (measured: orders/s fell with 40 threads).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        yield
        await app.state.db.close_async_pools()

    # Swagger UI and ReDoc served from the installed fastapi-offline package: no CDN.
    app = FastAPIOffline(title="omniretail", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url, echo=settings.sql_echo)
    install_error_handlers(app)
    app.add_middleware(OrderLane, state=app.state)  # inside the NUL guard
    app.add_middleware(NulGuard)
    routers = (system_router, catalog_router, locations_router, inventory_router, transfers_router, channels_router,
               customers_router, customer_privacy_router, carts_router, orders_router, sourcing_router,
               fulfilment_router, loyalty_router, keys_router, webhooks_router, pos_router, pages_router)
    for router in routers:
        app.include_router(router)
    document_idempotency(app, routers)
    return app

