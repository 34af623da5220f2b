"""Who is calling, and may they: API keys with roles, the bootstrap admin key, the workers' key,
the session cookie, and per-key rate limits.

Roles, each including the one before: viewer (read) < operator (upload, execute, cancel,
datasets) < admin (archive/delete, activate versions, manage keys). `worker` is apart:
the credential flows present on /api/internal (admins may call those too).
With OPTBOX_AUTH=off every caller is the local admin; that is refused unless the API
binds to loopback (see `check_auth_mode`).
"""

from __future__ import annotations

import enum
import hmac
import logging
import math
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, WindowStats, parse, strategies
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from api.context import Facade
from api.deps import FacadeDep
from api.errors import ApiError
from api.realtime import SESSION_COOKIE
from optbox import patches
from optbox.settings import Settings
from storage import keys

log = logging.getLogger(__name__)


class Role(str, enum.Enum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"
    worker = "worker"


_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}


@dataclass(frozen=True)
class Identity:
    name: str
    role: Role


LOCAL_ADMIN = Identity("local", Role.admin)
SYSTEM = Identity("optbox", Role.admin)  # what the facade does on its own (first-start samples)


def may(role: Role, needed: Role) -> bool:
    if needed == Role.worker:
        return role in (Role.worker, Role.admin)
    return role in _RANK and _RANK[role] >= _RANK[needed]


def check_auth_mode(settings: Settings) -> None:
    """Refuse to serve without credentials anywhere but on loopback."""
    if settings.auth == "off" and not settings.binds_loopback:
        raise SystemExit(f"refusing to start: OPTBOX_AUTH=off with OPTBOX_API_HOST={settings.api_host}; auth may be off only on loopback")


def presented_token(authorization: str | None, cookie: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return cookie or None


async def identify(facade: Facade, token: str | None) -> Identity | None:
    """The identity a token stands for, or None.

    A key found active is trusted for OPTBOX_AUTH_CACHE_S without asking the database again
    (a burst of requests with one key costs one lookup); an unknown key is asked about every time,
    so a key works the moment it is created. Revoking through this process forgets them all."""
    if not token:
        return None
    if hmac.compare_digest(token, facade.admin_token):
        return Identity("admin", Role.admin)
    if hmac.compare_digest(token, facade.worker_token):
        return Identity("worker", Role.worker)
    key_hash = keys.hash_key(token)
    if (known := facade.known_keys.get(key_hash)) is not None:
        return known
    async with facade.db.session() as session:
        row = await keys.find_active_key(session, token)
    if row is None:
        return None
    identity = facade.known_keys[key_hash] = Identity(row.name, Role(row.role))
    return identity


async def authorize(facade: Facade, connection: HTTPConnection, needed: Role) -> Identity:
    """Who presents this request's (or WebSocket's) credentials, if they may act as `needed`; else an ApiError."""
    if facade.settings.auth == "off":
        return LOCAL_ADMIN
    token = presented_token(connection.headers.get("authorization"), connection.cookies.get(SESSION_COOKIE))
    if token is None:
        raise ApiError(401, "sign in: send Authorization: Bearer <key>", headers={"WWW-Authenticate": "Bearer"})
    identity = await identify(facade, token)
    if identity is None:
        raise ApiError(401, "invalid or revoked key", headers={"WWW-Authenticate": "Bearer"})
    if not may(identity.role, needed):
        raise ApiError(403, f"role {identity.role.value} may not do this; it needs {needed.value}")
    return identity


def require(needed: Role):
    async def dependency(request: Request, facade: FacadeDep) -> Identity:
        identity = await authorize(facade, request, needed)
        request.state.identity = identity
        return identity

    return dependency


Viewer = Annotated[Identity, Depends(require(Role.viewer))]
Operator = Annotated[Identity, Depends(require(Role.operator))]
Admin = Annotated[Identity, Depends(require(Role.admin))]
WorkerKey = Annotated[Identity, Depends(require(Role.worker))]


class _InProcessLimiter:
    """limits' in-memory moving window, called directly. Its asyncio twin starts an expiry pass over
    every key on each hit, one thread hop per key under that key's lock: with twenty keys executing
    at once that was a sixth of the facade's CPU and a wait on every request. A hit here is a few
    list operations, and no thread."""

    def __init__(self) -> None:
        self.storage = patches.rate_limit_memory_storage()
        self._limiter = strategies.MovingWindowRateLimiter(self.storage)

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> bool:
        return self._limiter.hit(limit, *identifiers)

    async def get_window_stats(self, limit: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._limiter.get_window_stats(limit, *identifiers)


class RateLimits:
    """Per-key limits on the costly mutations (moving window). In memory for one API process;
    with OPTBOX_REDIS_URL in Redis, so a key's budget is shared by every replica."""

    def __init__(self, settings: Settings) -> None:
        self._limiter: MovingWindowRateLimiter | _InProcessLimiter = _InProcessLimiter()
        if settings.redis_url:
            self._limiter = MovingWindowRateLimiter(
                RedisStorage(f"async+{settings.redis_url}", implementation="redispy", key_prefix=f"{settings.redis_channel}:limits"))
        self._limits = {"upload": parse(settings.upload_rate), "execute": parse(settings.execute_rate)}

    async def check(self, action: str, who: str) -> None:
        limit = self._limits[action]
        try:
            if await self._limiter.hit(limit, action, who):
                return
        except Exception as exc:  # noqa: BLE001 - Redis away: a missed limit beats refusing every run
            log.warning("rate limits unavailable (%s); allowing %s by %s", exc, action, who)
            return
        reset_at = (await self._limiter.get_window_stats(limit, action, who)).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(429, f"too many {action}s: at most {limit} per key; retry in {retry_after} s", headers={"Retry-After": str(retry_after)})


def rate_limited(action: str, needed: Role = Role.operator):
    guard = require(needed)

    async def dependency(request: Request, identity: Identity = Depends(guard)) -> Identity:
        await request.app.state.rate_limits.check(action, identity.name)
        return identity

    return dependency


Uploader = Annotated[Identity, Depends(rate_limited("upload"))]
Executor = Annotated[Identity, Depends(rate_limited("execute"))]
