"""Keys (admin), who am I, and the page's sign-in: `/sandbox?token=…` becomes an HttpOnly cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import LOCAL_ADMIN, Admin, Role, Viewer, identify, presented_token
from api.deps import FacadeDep, IdPath, SessionDep
from api.errors import ApiError
from api.page import invalid_link_response, page_response
from api.realtime import SESSION_COOKIE
from storage import audit, keys

router = APIRouter(tags=["auth"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 ._@-]+$")
    role: Literal["viewer", "operator", "admin"]


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    key_prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


@router.post("/api/auth/keys", status_code=201)
async def create_key(session: SessionDep, who: Admin, body: KeyCreate) -> dict:
    if any(row.name == body.name for row in await keys.list_keys(session)):
        raise ApiError(409, f"a key named {body.name!r} exists; revoke it or pick another name")
    row, key = await keys.create_key(session, body.name, body.role, who.name)
    audit.record_activity(session, "create_key", "api_key", row.id, f"created {body.role} key {body.name}", who.name, who.role.value)
    await session.commit()
    return {"success": True, "key": key, **KeyOut.model_validate(row).model_dump(mode="json")}


@router.get("/api/auth/keys")
async def list_keys(session: SessionDep, _: Admin) -> dict:
    return {"success": True, "keys": [KeyOut.model_validate(row).model_dump(mode="json") for row in await keys.list_keys(session)]}


@router.delete("/api/auth/keys/{key_id}")
async def revoke_key(facade: FacadeDep, session: SessionDep, who: Admin, key_id: IdPath) -> dict:
    row = await keys.revoke_key(session, key_id)
    if row is None:
        raise ApiError(404, f"key {key_id} not found")
    audit.record_activity(session, "revoke_key", "api_key", key_id, f"revoked key {row.name}", who.name, who.role.value)
    await session.commit()
    facade.known_keys.clear()  # this replica stops trusting the key now (others within OPTBOX_AUTH_CACHE_S)
    return {"success": True, "id": key_id, "revoked": True}


@router.get("/api/auth/me")
async def me(who: Viewer) -> dict:
    return {"success": True, "name": who.name, "role": who.role.value}


class SessionOut(BaseModel):
    signedIn: bool
    name: str | None = None
    role: str | None = None


@router.get("/api/auth/session", response_model=SessionOut)
async def session_state(request: Request, facade: FacadeDep) -> SessionOut:
    """Whether the caller is signed in, answered without a 401 so the page can choose between
    its sign-in form and the workspace without logging a failed request."""
    if facade.settings.auth == "off":
        return SessionOut(signedIn=True, name=LOCAL_ADMIN.name, role=LOCAL_ADMIN.role.value)
    token = presented_token(request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))
    identity = await identify(facade, token)
    if identity is None or identity.role == Role.worker:
        return SessionOut(signedIn=False)
    return SessionOut(signedIn=True, name=identity.name, role=identity.role.value)


@router.get("/sandbox", include_in_schema=False, response_model=None)
async def sandbox(request: Request, facade: FacadeDep, token: str | None = None) -> FileResponse | HTMLResponse | RedirectResponse:
    """Sign in by link (as Jupyter does): a valid token becomes an HttpOnly cookie, then the URL loses it."""
    if token is not None:
        if await identify(facade, token) is None:
            if "text/html" in request.headers.get("accept", ""):
                return invalid_link_response()
            raise ApiError(401, "this sign-in link's token is invalid or revoked")
        response = RedirectResponse("/sandbox", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
        return response
    return page_response(facade.settings.resolved_web_dir)
