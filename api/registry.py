"""Registering models and datasets: validate first, then store bytes and rows together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Identity
from api.context import Facade
from api.errors import ApiError
from api.uploads import check_dataset, check_upload, check_with_cpython, model_name_for, safe_filename
from optbox import environments, model_files
from optbox.protocol import ModelType
from storage import audit, catalog
from storage.files import new_key, sha256_hex
from storage.models import DataSource, OptimizationModel

log = logging.getLogger(__name__)


@asynccontextmanager
async def _stored_with_rows(facade: Facade, session: AsyncSession, key: str, storing: Awaitable[None]) -> AsyncIterator[None]:
    """Let the bytes land (`storing` puts them under `key`), let the caller add its rows, commit: on any
    failure neither stays behind."""
    try:
        await storing
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
    description: str | None, actor: Identity, activate: bool = True, entry: str | None = None,
) -> OptimizationModel:
    """Validate and store a model (a .py file or an archive) as the next version of its name, with its
    dependency lock; with `activate` it becomes its type's active model, else it is a candidate (run by id). A big model may be answered on ruff's word:
    CPython's compile follows (`_confirm_with_cpython`)."""
    archive = model_files.is_archive(filename or "")
    key = new_key("models", next((s for s in model_files.ARCHIVE_SUFFIXES if (filename or "").lower().endswith(s)), ".py"))
    # the bytes are written and hashed while they are checked (a thread each); a refused model's are deleted
    storing = asyncio.create_task(facade.files.put(key, data))
    digest = asyncio.create_task(asyncio.to_thread(sha256_hex, data))
    try:
        upload = await check_upload(filename, data, facade.settings.max_upload_bytes, entry)
    except BaseException:
        await asyncio.gather(storing, return_exceptions=True)  # a write under way would land after the delete
        await facade.files.delete(key)
        raise
    finally:
        sha256 = await digest
    checked = upload.checked
    clean_name = safe_filename(filename)
    name = model_name_for(clean_name)
    async with _stored_with_rows(facade, session, key, storing):
        previous = await catalog.active_model(session, model_type.value) if activate and not checked.confirmed else None
        model = await catalog.add_model(session, OptimizationModel(
            model_name=name, original_filename=clean_name, model_type=model_type.value, file_ref=key,
            sha256=sha256, file_size=len(data), syntax_valid=True,
            validation_message=SYNTAX_OK if checked.confirmed else SYNTAX_PENDING,
            description=description, version=await catalog.next_version(session, name), uploaded_by=actor.name,
            metadata_={"config_schema": checked.schema} if checked.schema else None,
            entry=upload.files.entry if archive else None, dependency_lock=upload.lock or None,
            lock_sha256=environments.lock_sha256(upload.lock) if upload.lock else None,
        ), activate=activate)
        audit.record_activity(session, "upload", "model", model.id, f"uploaded {model_type.value} model {name} v{model.version}",
                              actor.name, actor.role.value)
        audit.notify(session, "Model uploaded", f"{name} v{model.version} ({model_type.value}) is ready", "success", "upload", {"modelId": model.id})
    if not checked.confirmed:
        _confirmations.start(_confirm_with_cpython(facade, model.id, filename or "", data, checked.schema, previous.id if previous else None))
    return model


SYNTAX_OK = "syntax OK"
SYNTAX_PENDING = "syntax OK by ruff's parser; CPython's compile is pending"


class _Background:
    """Tasks that outlive the request that started them; cancelled when the facade stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


_confirmations = _Background()
stop_confirmations = _confirmations.stop


async def resume_confirmations(facade: Facade) -> None:
    """At start: CPython's verdict on the models a stopped facade had answered for on ruff's word."""
    async with facade.db.session() as session:
        pending = await catalog.models_with_validation_message(session, SYNTAX_PENDING)
    for model in pending:
        _confirmations.start(_confirm_stored(facade, model))


async def _confirm_stored(facade: Facade, model: OptimizationModel) -> None:
    try:
        data = await facade.files.get(model.file_ref)
    except Exception:  # noqa: BLE001 - a lost file: its runs fail on download, with that reason
        log.exception("model %s: its stored file could not be read for CPython's check", model.id)
        return
    await _confirm_with_cpython(facade, model.id, model.original_filename, data, (model.metadata_ or {}).get("config_schema"), None)


async def _confirm_with_cpython(facade: Facade, model_id: int, filename: str, data: bytes, schema: dict[str, Any] | None,
                                previous_id: int | None) -> None:
    """CPython's verdict on a model stored on ruff's word. Where it refuses what ruff accepted, the version
    is marked invalid (syntax_valid false, the refusal as its validation message, an error notification)
    and, if it is still its type's active model, the model it replaced is active again. Recorded once:
    the first facade to move the version off SYNTAX_PENDING records it, later ones leave it be."""
    try:
        refusal, confirmed_schema = None, await check_with_cpython(filename, data)
    except ApiError as exc:
        refusal, confirmed_schema = exc, None
    except Exception:  # noqa: BLE001 - the checker died: the flow's own compile still refuses a bad model
        log.exception("CPython's check of model %s did not finish; its flow compiles it before running", model_id)
        return
    async with facade.db.session() as session:
        if not await catalog.record_verdict(session, model_id, SYNTAX_PENDING, SYNTAX_OK if refusal is None else refusal.error):
            return  # gone, or another facade (replicas each resume pending checks) recorded it first
        model = await catalog.get_model(session, model_id)
        label = f"{model.model_type} model {model.model_name} v{model.version}"
        if refusal is None:
            if confirmed_schema != schema:
                log.warning("%s: CPython reads CONFIG_SCHEMA %r, not %r", label, confirmed_schema, schema)
                model.metadata_ = {**(model.metadata_ or {}), "config_schema": confirmed_schema}
        else:
            log.warning("%s: ruff accepted it, CPython refuses it: %s", label, refusal.error)
            model.syntax_valid = False
            previous = await catalog.get_model(session, previous_id) if previous_id is not None else None
            if model.status == "active":
                model.status = "inactive"
                if previous is not None and previous.status == "inactive":
                    await catalog.activate_model(session, previous)
            audit.notify(session, "Model does not compile", f"{label} cannot run: {refusal.error}", "error", "upload", {"modelId": model.id})
        await session.commit()


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


def refuse_if_it_does_not_compile(model: OptimizationModel) -> None:
    """A version CPython refused after ruff's parser had let it in never runs."""
    if model.syntax_valid is False:
        raise ApiError(409, f"model {model.model_name} v{model.version} does not compile: {model.validation_message}")


async def activate(session: AsyncSession, model_id: int, actor: Identity) -> OptimizationModel:
    model = await catalog.get_model(session, model_id)
    if model is None:
        raise ApiError(404, f"model {model_id} not found")
    refuse_if_it_does_not_compile(model)
    await catalog.activate_model(session, model)
    audit.record_activity(session, "activate", "model", model_id, f"activated {model.model_type} model {model.model_name} v{model.version}", actor.name, actor.role.value)
    await session.commit()
    return model


async def register_dataset(
    facade: Facade, session: AsyncSession, *, filename: str | None, data: bytes, model_type: ModelType,
    description: str | None, actor: Identity, activate: bool = True,
) -> DataSource:
    """Validate and store a dataset; with `activate` it becomes the one its type's runs read when they name none."""
    kind = check_dataset(filename, data, facade.settings.max_upload_bytes)
    clean_name = safe_filename(filename, "dataset")
    key = new_key("datasets", Path(clean_name).suffix.lower())
    async with _stored_with_rows(facade, session, key, facade.files.put(key, data)):
        dataset = await catalog.add_dataset(session, DataSource(
            name=clean_name, model_type=model_type.value, file_ref=key, sha256=sha256_hex(data), file_size=len(data),
            content_type=kind, description=description, uploaded_by=actor.name,
        ), activate=activate)
        audit.record_activity(session, "upload", "dataset", dataset.id,
                              f"uploaded {model_type.value} dataset {clean_name}{'' if activate else ' (not active)'}", actor.name, actor.role.value)
    return dataset


async def activate_dataset(session: AsyncSession, dataset_id: int, actor: Identity) -> DataSource:
    """Make the dataset the one its type's runs read when they name none (scheduled runs included)."""
    dataset = await catalog.get_dataset(session, dataset_id)
    if dataset is None:
        raise ApiError(404, f"data source {dataset_id} not found")
    previous = await catalog.active_dataset(session, dataset.model_type)
    await catalog.activate_dataset(session, dataset)
    audit.record_activity(session, "activate", "dataset", dataset_id, f"activated {dataset.model_type} dataset {dataset.name}",
                          actor.name, actor.role.value,
                          {"before": {"dataSourceId": previous.id if previous else None}, "after": {"dataSourceId": dataset.id}})
    await session.commit()
    return dataset
