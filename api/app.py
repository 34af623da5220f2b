"""The facade: FastAPI routes + the Socket.IO server as one ASGI app.

`create_app()` returns what uvicorn serves. Startup: migrate the database,
register the samples on first start, connect to Prefect, start the mirror.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import socketio
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from api.bootstrap import register_samples
from api.context import Facade
from api.errors import install_error_handlers
from api.mirror import Mirror
from api.orchestrator import Orchestrator
from api.realtime import Realtime
from api.routes import activity, datasources, health, internal, models, runs
from optbox.settings import Settings, get_settings
from storage.db import Database, migrate
from storage.files import LocalFileStore

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    settings = settings or get_settings()
    realtime = Realtime()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(migrate, settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        async with Orchestrator(settings.resolved_prefect_api_url) as orchestrator:
            facade = Facade(settings=settings, db=db, files=LocalFileStore(settings.resolved_data_dir / "files"),
                            realtime=realtime, orchestrator=orchestrator)
            app.state.facade = facade
            if settings.bootstrap_samples:
                await register_samples(facade)
            mirror = Mirror(facade)
            app.state.mirror = mirror
            mirror.start()
            try:
                yield
            finally:
                await mirror.stop()
                await db.dispose()

    app = FastAPI(title="optbox", version="0.1.0", lifespan=lifespan,
                  description="Sandbox for DMO/RMO/SO energy-market optimization models, orchestrated by Prefect.")
    install_error_handlers(app)
    for router in (models.router, runs.router, datasources.router, activity.router, health.router, internal.router):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return socketio.ASGIApp(realtime.sio, other_asgi_app=app, socketio_path="socket.io")
