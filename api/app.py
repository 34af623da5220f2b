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
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import RateLimits, Role, check_auth_mode, identify
from api.body_limit import MULTIPART_OVERHEAD, BodyLimit
from api.bootstrap import register_samples
from api.context import Facade
from api.errors import install_error_handlers
from api.mirror import Mirror
from api.orchestrator import Orchestrator
from api.page import mount_assets
from api.realtime import Realtime
from api.registry import resume_confirmations, stop_confirmations
from api.routes import activity, alerts, auth, datasources, health, internal, models, results, runs, schedules, type_settings
from api.uploads import stop_model_checker, warm_model_checker
from optbox import patches
from optbox.settings import Settings, get_settings
from storage.db import Database, migrate
from storage.file_stores import close_file_store, open_file_store

log = logging.getLogger(__name__)


WAL_CHECKPOINT_EVERY_S = 1.0  # SQLite's own threshold (1,000 pages, ~4 MB) takes a busy facade a second or more
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response. Plain ASGI on purpose: the decorator form
    (BaseHTTPMiddleware) costs each request a task and a memory stream, which showed in
    POST /execute's latency under concurrency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def authorized_socket(facade: Facade, token: str | None) -> bool:
    if facade.settings.auth == "off":
        return True
    identity = await identify(facade, token)
    return identity is not None and identity.role != Role.worker


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    settings = settings or get_settings()
    check_auth_mode(settings)
    realtime = Realtime.for_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(migrate, settings.resolved_database_url)
        checker = asyncio.get_running_loop().run_in_executor(None, warm_model_checker)  # in the background
        db = Database(settings.resolved_database_url, checkpoint_every_s=WAL_CHECKPOINT_EVERY_S)
        checkpoints = asyncio.create_task(db.checkpoints(), name="wal-checkpoints")
        files = await open_file_store(settings)
        async with Orchestrator(settings.resolved_prefect_api_url) as orchestrator:
            facade = Facade(settings=settings, db=db, files=files,
                            realtime=realtime, orchestrator=orchestrator,
                            admin_token=settings.secret("admin_token"), worker_token=settings.secret("worker_token"))
            app.state.facade = facade
            realtime.authenticate = lambda token: authorized_socket(facade, token)
            if settings.bootstrap_samples:
                await register_samples(facade)
            await resume_confirmations(facade)
            mirror = Mirror(facade)
            app.state.mirror = mirror
            mirror.start()
            facade.alert_sender.start()
            await db.open_pool()
            patches.freeze_startup_heap()
            patches.spread_full_collections()
            try:
                yield
            finally:
                await mirror.stop()
                await facade.alert_sender.stop()
                await stop_confirmations()
                await facade.queue.close()
                await close_file_store(files)
                db.stop_checkpoints()
                await asyncio.gather(checkpoints, return_exceptions=True)
                await db.dispose()
                await asyncio.gather(checker, return_exceptions=True)
                stop_model_checker()

    app = FastAPI(title="optbox", version="0.1.0", lifespan=lifespan,
                  description="Sandbox for DMO/RMO/SO energy-market optimization models, orchestrated by Prefect.")
    install_error_handlers(app)
    app.state.rate_limits = RateLimits(settings)
    app.add_middleware(BodyLimit, upload_bytes=settings.max_upload_bytes)
    # An uploaded file is read whole into memory right after parsing (api/routes/models.py), and BodyLimit bounds it
    patches.parse_uploads_in_memory(settings.max_upload_bytes + MULTIPART_OVERHEAD)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"], allow_headers=["Authorization", "Content-Type"])

    app.add_middleware(SecurityHeaders)

    for router in (models.router, runs.router, results.router, schedules.router, type_settings.router, alerts.router, datasources.router,
                   activity.router, health.router, internal.router, internal.streams, auth.router):
        app.include_router(router)

    mount_assets(app, settings.resolved_web_dir)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/sandbox")

    return socketio.ASGIApp(realtime.sio, other_asgi_app=app, socketio_path="socket.io")
