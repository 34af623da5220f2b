"""Typed dependencies, so route signatures read like sentences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from api.context import Facade
from optbox.protocol import MAX_DB_INT


async def get_facade(connection: HTTPConnection) -> Facade:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    # An HTTPConnection, so WebSocket routes have it too.
    return connection.app.state.facade


async def get_session(facade: Annotated[Facade, Depends(get_facade)]) -> AsyncIterator[AsyncSession]:
    async with facade.db.session() as session:
        yield session


FacadeDep = Annotated[Facade, Depends(get_facade)]
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
IdQuery = Annotated[int, Query(ge=1, le=MAX_DB_INT)]
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
