"""Models and datasets: versions, the active model of a type, archive/delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DataSource, JobRun, OptimizationModel, utcnow


async def next_version(session: AsyncSession, model_name: str) -> int:
    current = await session.scalar(select(func.max(OptimizationModel.version)).where(OptimizationModel.model_name == model_name))
    return (current or 0) + 1


async def add_model(session: AsyncSession, model: OptimizationModel, *, activate: bool) -> OptimizationModel:
    session.add(model)
    await session.flush()
    if activate:
        await activate_model(session, model)
    return model


async def activate_model(session: AsyncSession, model: OptimizationModel) -> None:
    """Make `model` the one active model of its type; the previous one becomes inactive."""
    await session.execute(
        update(OptimizationModel)
        .where(OptimizationModel.model_type == model.model_type, OptimizationModel.status == "active", OptimizationModel.id != model.id)
        .values(status="inactive")
    )
    model.status = "active"


async def get_model(session: AsyncSession, model_id: int) -> OptimizationModel | None:
    return await session.get(OptimizationModel, model_id)


async def active_model(session: AsyncSession, model_type: str) -> OptimizationModel | None:
    return await session.scalar(
        select(OptimizationModel)
        .where(OptimizationModel.model_type == model_type, OptimizationModel.status == "active")
        .order_by(OptimizationModel.uploaded_at.desc(), OptimizationModel.id.desc())
        .limit(1)
    )


async def record_verdict(session: AsyncSession, model_id: int, expected: str, message: str) -> bool:
    """Set the model's validation message if it is still `expected`; False if it is not (or no such model).
    One statement, so of two sessions racing for it exactly one succeeds (a row lock on PostgreSQL, the
    write lock on SQLite); the caller's transaction holds the row until it commits."""
    models = OptimizationModel.__table__
    result = await session.execute(
        update(models).where(models.c.id == model_id, models.c.validation_message == expected).values(validation_message=message))
    return result.rowcount == 1


async def models_with_validation_message(session: AsyncSession, message: str) -> Sequence[OptimizationModel]:
    return (await session.scalars(select(OptimizationModel).where(OptimizationModel.validation_message == message))).all()


async def list_models(session: AsyncSession, model_type: str | None = None, status: str | None = None) -> Sequence[OptimizationModel]:
    query = select(OptimizationModel).order_by(OptimizationModel.model_name, OptimizationModel.version.desc())
    if model_type:
        query = query.where(OptimizationModel.model_type == model_type)
    if status:
        query = query.where(OptimizationModel.status == status)
    else:
        query = query.where(OptimizationModel.status != "archived")
    return (await session.scalars(query)).all()


async def last_runs(session: AsyncSession, model_ids: Sequence[int]) -> dict[int, JobRun]:
    if not model_ids:
        return {}
    newest = (
        select(JobRun.model_id, func.max(JobRun.id).label("run_id"))
        .where(JobRun.model_id.in_(model_ids))
        .group_by(JobRun.model_id)
        .subquery()
    )
    runs = await session.scalars(select(JobRun).join(newest, JobRun.id == newest.c.run_id))
    return {run.model_id: run for run in runs}


async def counts_by_type(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(OptimizationModel.model_type, func.count())
        .where(OptimizationModel.status != "archived")
        .group_by(OptimizationModel.model_type)
    )
    return {model_type: count for model_type, count in rows}


async def touch_model(session: AsyncSession, model_id: int, when: datetime | None = None) -> None:
    # On the table, not the mapped class: a last-used stamp is no change a run starts from, so it
    # leaves storage.catalog_cache's answers in place (every run start stamps its model).
    models = OptimizationModel.__table__
    await session.execute(update(models).where(models.c.id == model_id).values(last_used_at=when or utcnow()))


async def add_dataset(session: AsyncSession, dataset: DataSource, *, activate: bool) -> DataSource:
    session.add(dataset)
    await session.flush()
    if activate:
        await activate_dataset(session, dataset)
    return dataset


async def activate_dataset(session: AsyncSession, dataset: DataSource) -> None:
    """Make `dataset` the one active dataset of its type; the previous one stays stored, inactive."""
    await session.execute(
        update(DataSource)
        .where(DataSource.model_type == dataset.model_type, DataSource.is_active.is_(True), DataSource.id != dataset.id)
        .values(is_active=False)
    )
    dataset.is_active = True


async def get_dataset(session: AsyncSession, dataset_id: int) -> DataSource | None:
    return await session.get(DataSource, dataset_id)


async def active_dataset(session: AsyncSession, model_type: str) -> DataSource | None:
    return await session.scalar(
        select(DataSource).where(DataSource.model_type == model_type, DataSource.is_active.is_(True))
        .order_by(DataSource.uploaded_at.desc(), DataSource.id.desc()).limit(1)
    )


async def list_datasets(session: AsyncSession, model_type: str | None = None) -> Sequence[DataSource]:
    query = select(DataSource).order_by(DataSource.uploaded_at.desc(), DataSource.id.desc())
    if model_type:
        query = query.where(DataSource.model_type == model_type)
    return (await session.scalars(query)).all()
