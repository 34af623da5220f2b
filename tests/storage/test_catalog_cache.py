"""CatalogCache: answers follow every committed catalog change made through the same Database."""

from __future__ import annotations

from sqlalchemy import update

from storage import catalog
from storage.catalog_cache import CatalogCache
from storage.db import Database
from storage.models import DataSource, OptimizationModel


def _model(name: str, model_type: str = "DMO") -> OptimizationModel:
    return OptimizationModel(model_name=name, original_filename=f"{name}.py", model_type=model_type, file_ref=f"k/{name}",
                             sha256="0" * 64, file_size=1)


def _dataset(name: str, model_type: str = "DMO") -> DataSource:
    return DataSource(name=name, model_type=model_type, file_ref=f"d/{name}", sha256="0" * 64, file_size=1, content_type="csv")


async def _add_active(db: Database, name: str) -> int:
    async with db.session() as session:
        model = await catalog.add_model(session, _model(name), activate=True)
        await session.commit()
        return model.id


async def test_the_active_model_follows_activation_and_upload(db):
    cache = CatalogCache(db)
    first = await _add_active(db, "first")
    assert (await cache.active_model("DMO")).id == first
    second = await _add_active(db, "second")
    assert (await cache.active_model("DMO")).id == second
    async with db.session() as session:  # back to the first: an ORM update statement plus a flushed object
        await catalog.activate_model(session, await catalog.get_model(session, first))
        await session.commit()
    assert (await cache.active_model("DMO")).id == first
    assert (await cache.model(second)).status == "inactive"


async def test_a_change_counts_only_once_committed(db):
    cache = CatalogCache(db)
    model_id = await _add_active(db, "m")
    assert (await cache.model(model_id)).syntax_valid
    async with db.session() as session:
        model = await catalog.get_model(session, model_id)
        model.syntax_valid = False
        await session.flush()
        assert (await cache.model(model_id)).syntax_valid  # not committed: others still see it valid
        await session.rollback()
    assert (await cache.model(model_id)).syntax_valid
    async with db.session() as session:
        (await catalog.get_model(session, model_id)).syntax_valid = False
        await session.commit()
    assert not (await cache.model(model_id)).syntax_valid


async def test_an_update_statement_counts_like_a_flushed_object(db):
    cache = CatalogCache(db)
    model_id = await _add_active(db, "m")
    assert (await cache.active_model("DMO")).id == model_id
    async with db.session() as session:
        await session.execute(update(OptimizationModel).where(OptimizationModel.id == model_id).values(status="archived"))
        await session.commit()
    assert await cache.active_model("DMO") is None
    assert (await cache.model(model_id)).status == "archived"


async def test_a_last_used_stamp_keeps_the_answers(db):
    cache = CatalogCache(db)
    model_id = await _add_active(db, "m")
    first = await cache.active_model("DMO")
    async with db.session() as session:
        await catalog.touch_model(session, model_id)
        await session.commit()
        assert (await catalog.get_model(session, model_id)).last_used_at is not None
    assert await cache.active_model("DMO") is first  # the same answer, not read again


async def test_the_active_dataset_follows_activation_and_a_deleted_one(db):
    cache = CatalogCache(db)
    assert await cache.active_dataset("DMO") is None
    async with db.session() as session:
        older = await catalog.add_dataset(session, _dataset("older"), activate=True)
        await session.commit()
    assert (await cache.active_dataset("DMO")).id == older.id
    async with db.session() as session:  # a candidate: stored, not read by runs
        newer = await catalog.add_dataset(session, _dataset("newer"), activate=False)
        await session.commit()
    assert (await cache.active_dataset("DMO")).id == older.id
    async with db.session() as session:
        await catalog.activate_dataset(session, await catalog.get_dataset(session, newer.id))
        await session.commit()
    assert (await cache.active_dataset("DMO")).id == newer.id
    assert (await cache.dataset(older.id)).is_active is False
    async with db.session() as session:
        await session.delete(await catalog.get_dataset(session, newer.id))
        await session.commit()
    assert await cache.active_dataset("DMO") is None
    assert await cache.dataset(newer.id) is None


async def test_an_answer_read_while_a_change_commits_is_not_kept(db):
    cache = CatalogCache(db)
    old = await _add_active(db, "old")

    async def read_then_let_a_change_land(session):
        answer = await catalog.active_model(session, "DMO")
        await _add_active(db, "new")  # commits between the read and the caching of its answer
        return answer

    assert (await cache._answer(("active", "DMO"), read_then_let_a_change_land)).id == old
    assert (await cache.active_model("DMO")).model_name == "new"


async def test_writes_through_another_database_are_seen_only_when_disabled(db):
    """Two Databases on one file stand for two API replicas: each one's cache sees only its own commits."""
    other = Database(db.url)
    try:
        cached, read_through = CatalogCache(db), CatalogCache(db, enabled=False)
        first = await _add_active(db, "first")
        assert (await cached.active_model("DMO")).id == first
        assert (await read_through.active_model("DMO")).id == first
        second = await _add_active(other, "second")
        assert (await read_through.active_model("DMO")).id == second
        assert (await cached.active_model("DMO")).id == first  # why replicas must read through
    finally:
        await other.dispose()
