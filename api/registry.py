"""Registering models and datasets: validate first, then store bytes and rows together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Identity
from api.context import Facade
from api.errors import ApiError
from api.uploads import check_dataset, check_model, model_name_for, safe_filename
from optbox.protocol import ModelType
from storage import audit, catalog
from storage.files import new_key, sha256_hex
from storage.models import DataSource, OptimizationModel


@asynccontextmanager
async def _stored_with_rows(facade: Facade, session: AsyncSession, key: str, data: bytes) -> AsyncIterator[None]:
    """Store the bytes, let the caller add its rows, commit: on any failure neither stays behind."""
    await facade.files.put(key, data)
    try:
        yield
        await session.commit()
    except BaseException as exc:
        await session.rollback()
        await facade.files.delete(key)
        if isinstance(exc, IntegrityError):
            raise ApiError(409, "another upload of the same name landed at the same moment; upload again for the next version") from exc
        raise


async def register_model(
    facade: Facade, session: AsyncSession, *, filename: str | None, data: bytes, model_type: ModelType,
    description: str | None, actor: Identity, activate: bool = True,
) -> OptimizationModel:
    """Validate and store a model as the next version of its name; it becomes its type's active model."""
    _, schema = await check_model(filename, data, facade.settings.max_upload_bytes)
    clean_name = safe_filename(filename)
    name = model_name_for(clean_name)
    key = new_key("models", ".py")
    async with _stored_with_rows(facade, session, key, data):
        model = await catalog.add_model(session, OptimizationModel(
            model_name=name, original_filename=clean_name, model_type=model_type.value, file_ref=key,
            sha256=sha256_hex(data), file_size=len(data), syntax_valid=True, validation_message="syntax OK",
            description=description, version=await catalog.next_version(session, name), uploaded_by=actor.name,
            metadata_={"config_schema": schema} if schema else None,
        ), activate=activate)
        audit.record_activity(session, "upload", "model", model.id, f"uploaded {model_type.value} model {name} v{model.version}",
                              actor.name, actor.role.value)
        audit.notify(session, "Model uploaded", f"{name} v{model.version} ({model_type.value}) is ready", "success", "upload", {"modelId": model.id})
    return model


async def archive_or_delete_model(facade: Facade, session: AsyncSession, model_id: int, hard: bool, actor: Identity) -> str:
    model = await catalog.get_model(session, model_id)
    if model is None:
        raise ApiError(404, f"model {model_id} not found")
    label = f"{model.model_type} model {model.model_name} v{model.version}"
    if hard:
        key = model.file_ref
        await session.delete(model)
        audit.record_activity(session, "delete", "model", model_id, f"deleted {label}", actor.name, actor.role.value)
        await session.commit()
        await facade.files.delete(key)
        return "deleted"
    model.status = "archived"
    audit.record_activity(session, "archive", "model", model_id, f"archived {label}", actor.name, actor.role.value)
    await session.commit()
    return "archived"


async def activate(session: AsyncSession, model_id: int, actor: Identity) -> OptimizationModel:
    model = await catalog.get_model(session, model_id)
    if model is None:
        raise ApiError(404, f"model {model_id} not found")
    await catalog.activate_model(session, model)
    audit.record_activity(session, "activate", "model", model_id, f"activated {model.model_type} model {model.model_name} v{model.version}", actor.name, actor.role.value)
    await session.commit()
    return model


async def register_dataset(
    facade: Facade, session: AsyncSession, *, filename: str | None, data: bytes, model_type: ModelType,
    description: str | None, actor: Identity,
) -> DataSource:
    kind = check_dataset(filename, data, facade.settings.max_upload_bytes)
    clean_name = safe_filename(filename, "dataset")
    key = new_key("datasets", Path(clean_name).suffix.lower())
    async with _stored_with_rows(facade, session, key, data):
        dataset = await catalog.add_dataset(session, DataSource(
            name=clean_name, model_type=model_type.value, file_ref=key, sha256=sha256_hex(data), file_size=len(data),
            content_type=kind, description=description, uploaded_by=actor.name,
        ))
        audit.record_activity(session, "upload", "dataset", dataset.id, f"uploaded {model_type.value} dataset {clean_name}", actor.name, actor.role.value)
    return dataset
