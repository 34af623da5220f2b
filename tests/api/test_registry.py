"""CPython's verdict on a model stored on ruff's word is recorded once, however many facades reach it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from api.registry import SYNTAX_OK, SYNTAX_PENDING, _confirm_with_cpython
from api.uploads import stop_model_checker
from storage import catalog
from storage.db import Database, migrate
from storage.models import Notification, OptimizationModel


@pytest.fixture
async def facade(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'optbox.db'}"
    await asyncio.to_thread(migrate, url)
    db = Database(url)
    yield SimpleNamespace(db=db)  # all the verdict touches of a facade
    await db.dispose()
    stop_model_checker()


async def _pending_model(db: Database) -> int:
    async with db.session() as session:
        model = await catalog.add_model(session, OptimizationModel(
            model_name="big", original_filename="big.py", model_type="DMO", file_ref="k", sha256="0" * 64, file_size=1,
            validation_message=SYNTAX_PENDING), activate=True)
        await session.commit()
        return model.id


async def _state(db: Database, model_id: int) -> tuple[OptimizationModel, int]:
    async with db.session() as session:
        return await catalog.get_model(session, model_id), await session.scalar(select(func.count()).select_from(Notification))


async def test_two_facades_refusing_the_same_model_notify_once(facade):
    model_id = await _pending_model(facade.db)
    await asyncio.gather(*(_confirm_with_cpython(facade, model_id, "big.py", b"x = (\n", None, None) for _ in range(2)))
    model, notifications = await _state(facade.db, model_id)
    assert (model.syntax_valid, model.status, notifications) == (False, "inactive", 1)
    assert "line 1" in model.validation_message or "'(' was never closed" in model.validation_message


async def test_a_verdict_already_recorded_is_not_recorded_again(facade):
    model_id = await _pending_model(facade.db)
    await _confirm_with_cpython(facade, model_id, "big.py", b"x = 1\n", None, None)
    await _confirm_with_cpython(facade, model_id, "big.py", b"x = (\n", None, None)  # a late second opinion
    model, notifications = await _state(facade.db, model_id)
    assert (model.syntax_valid, model.validation_message, notifications) == (True, SYNTAX_OK, 0)
