"""What starting a run reads from the catalog, kept between catalog changes.

Every run start resolves a model (by id, or the active one of its type), a dataset (by id, or
the active one of its type) and its type's saved settings. Under a burst of executes those two reads were half of the facade's
work per request; the catalog, meanwhile, changes a few times a day.

Contract: an answer is never older than the last committed catalog change made through the same
`Database`. Every commit that wrote `optimization_models`, `data_sources` or `type_settings` rows — ORM objects
flushed, or an ORM update/delete statement — bumps a generation after the commit, and an answer
read before a bump is not kept. A statement on the bare table is not counted: `catalog.touch_model`
stamps last use that way, at every run start. That holds only while this process is the catalog's one writer,
so API replicas (several processes on one database) read through (`enabled=False`).
Answers are detached objects, shared between callers: read them, never change or attach them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from storage import catalog, type_settings
from storage.db import Database
from storage.models import DataSource, OptimizationModel, TypeSettings

T = TypeVar("T")
CATALOG = (OptimizationModel, DataSource, TypeSettings)
_CHANGED = "optbox_catalog_changed"  # in a session's info from a catalog write until its commit or rollback


class CatalogCache:
    def __init__(self, db: Database, *, enabled: bool = True) -> None:
        self.db = db
        self.enabled = enabled
        self._generation = 0
        self._answers: dict[Hashable, Any] = {}
        session_class = db.sessions.kw["sync_session_class"]
        event.listen(session_class, "after_flush", self._note_flush)
        event.listen(session_class, "do_orm_execute", self._note_statement)
        event.listen(session_class, "after_commit", self._commit_done)
        event.listen(session_class, "after_rollback", self._rollback_done)

    async def model(self, model_id: int) -> OptimizationModel | None:
        return await self._answer(("model", model_id), lambda session: catalog.get_model(session, model_id))

    async def active_model(self, model_type: str) -> OptimizationModel | None:
        return await self._answer(("active", model_type), lambda session: catalog.active_model(session, model_type))

    async def dataset(self, dataset_id: int) -> DataSource | None:
        return await self._answer(("dataset", dataset_id), lambda session: catalog.get_dataset(session, dataset_id))

    async def active_dataset(self, model_type: str) -> DataSource | None:
        return await self._answer(("active-dataset", model_type), lambda session: catalog.active_dataset(session, model_type))

    async def settings(self, model_type: str) -> TypeSettings | None:
        return await self._answer(("settings", model_type), lambda session: type_settings.current_settings(session, model_type))

    def changed(self) -> None:
        self._generation += 1
        self._answers.clear()

    async def _answer(self, key: Hashable, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if key in self._answers:
            return self._answers[key]
        generation = self._generation
        async with self.db.session() as session:  # its own session: the answer leaves it detached
            answer = await read(session)
        if self.enabled and generation == self._generation:  # no catalog commit landed while it was read
            self._answers[key] = answer
        return answer

    @staticmethod
    def _note_flush(session: Session, _context: Any) -> None:
        if any(isinstance(row, CATALOG) for row in chain(session.new, session.dirty, session.deleted)):
            session.info[_CHANGED] = True

    @staticmethod
    def _note_statement(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete or state.is_insert) and any(m.class_ in CATALOG for m in state.all_mappers):
            state.session.info[_CHANGED] = True

    def _commit_done(self, session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            self.changed()

    @staticmethod
    def _rollback_done(session: Session) -> None:
        session.info.pop(_CHANGED, None)
