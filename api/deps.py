"""Typed dependencies, so route signatures read like sentences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Facade


def get_facade(request: Request) -> Facade:
    return request.app.state.facade


async def get_session(facade: Annotated[Facade, Depends(get_facade)]) -> AsyncIterator[AsyncSession]:
    async with facade.db.session() as session:
        yield session


FacadeDep = Annotated[Facade, Depends(get_facade)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
