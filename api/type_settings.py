"""Settings per model type: the default run config of DMO/RMO/SO, and what a run takes from it.

Owns: reading and saving a type's settings (each save a new version, audited with before/after), their
check against the type's active model's CONFIG_SCHEMA, the merge of a run's own config over them (top-level
keys: the run's own win), and what the type's next scheduled run will use (`next_run_uses`).

Contracts:
- A save the active model's schema refuses is a 422 naming the field (`config.units[0].p_max: ...`);
  nothing is stored.
- Settings are not re-checked when the active model changes: GET says `valid: false` with the problems,
  and a run the facade did not start (a scheduled one) fails at its claim with the reason, not retried.
- Reads at run start go through the facade's CatalogCache (settings change a few times a day).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Identity
from api.config_schema import config_refusal, dotted_path, schema_errors, slash_path
from api.context import Facade
from api.errors import ApiError
from api.schemas import ModelRef, NextRunUses, SettingsOut, SettingsProblem
from optbox.protocol import ModelType
from storage import audit, catalog, type_settings
from storage.models import OptimizationModel, TypeSettings

MAX_PROBLEMS = 20


def model_label(model: OptimizationModel) -> str:
    return f"{model.model_name} v{model.version}"


def model_schema(model: OptimizationModel | None) -> dict[str, Any] | None:
    return None if model is None else (model.metadata_ or {}).get("config_schema")


def merged_config(saved: TypeSettings | None, own: dict[str, Any] | None) -> dict[str, Any]:
    """The type's settings with the run's own config over them, key by top-level key."""
    return {**(saved.config if saved else {}), **(own or {})}


def problems(config: dict[str, Any], model: OptimizationModel | None) -> list[SettingsProblem]:
    """How `config` fails the model's CONFIG_SCHEMA (none without a model or a schema)."""
    return [SettingsProblem(path=slash_path(e.absolute_path), message=e.message) for e in schema_errors(config, model_schema(model))[:MAX_PROBLEMS]]


def settings_refusal(model_type: str, saved: TypeSettings | None, config: dict[str, Any], model: OptimizationModel) -> ApiError | None:
    """Why a run of `model` may not start with `config` (its type's settings merged with its own), or None.
    When the saved settings alone do not fit the schema, the reason names them and their version."""
    schema = model_schema(model)
    errors = schema_errors(config, schema)
    if not errors:
        return None
    if saved is not None and (settings_errors := schema_errors(saved.config, schema)):
        first = settings_errors[0]
        return ApiError(422, f"the saved {model_type} settings (v{saved.version}) do not satisfy the schema of {model_label(model)}: "
                             f"{dotted_path(first.absolute_path)}: {first.message}; change them (PUT /api/optimization/settings/{model_type}) "
                             "or activate a model they fit", [{"path": slash_path(e.absolute_path), "message": e.message} for e in settings_errors[:MAX_PROBLEMS]])
    return config_refusal(errors, model_label(model))


def describe(model_type: ModelType, saved: TypeSettings | None, active: OptimizationModel | None) -> SettingsOut:
    config = saved.config if saved else {}
    found = problems(config, active)
    return SettingsOut(
        modelType=model_type, config=config, version=saved.version if saved else 0,
        updatedBy=saved.changed_by if saved else None, updatedAt=saved.changed_at if saved else None,
        activeModel=None if active is None else ModelRef(id=active.id, name=active.model_name, version=active.version),
        valid=not found, problems=found,
    )


async def read_settings(session: AsyncSession, model_type: ModelType) -> SettingsOut:
    return describe(model_type, await type_settings.current_settings(session, model_type.value),
                    await catalog.active_model(session, model_type.value))


async def save_settings(session: AsyncSession, model_type: ModelType, config: dict[str, Any], actor: Identity) -> SettingsOut:
    """Check `config` against the active model's schema, then store it as the next version, audited."""
    active = await catalog.active_model(session, model_type.value)
    errors = schema_errors(config, model_schema(active))
    if errors:
        first = errors[0]
        raise ApiError(422, f"{dotted_path(first.absolute_path)}: {first.message} (schema of {model_label(active)}, the active {model_type.value} model)",
                       [{"path": slash_path(e.absolute_path), "message": e.message} for e in errors[:MAX_PROBLEMS]])
    before = await type_settings.current_settings(session, model_type.value)
    saved = await type_settings.add_version(session, model_type.value, config, actor.name)
    audit.record_activity(session, "settings", "settings", model_type.value, f"saved {model_type.value} settings v{saved.version}",
                          actor.name, actor.role.value,
                          {"before": {"version": before.version, "config": before.config} if before else {"version": 0, "config": {}},
                           "after": {"version": saved.version, "config": saved.config}})
    try:
        await session.commit()
    except IntegrityError as exc:
        raise ApiError(409, f"another change of the {model_type.value} settings landed at the same moment; read them and save again") from exc
    return describe(model_type, saved, active)


async def mismatch_note(session: AsyncSession, model: OptimizationModel) -> str:
    """For an activation's answer: '' when the type's saved settings fit the newly active model, else what does not."""
    saved = await type_settings.current_settings(session, model.model_type)
    errors = schema_errors(saved.config if saved else {}, model_schema(model))
    if not errors:
        return ""
    return (f"; the saved {model.model_type} settings (v{saved.version if saved else 0}) do not satisfy its schema "
            f"({dotted_path(errors[0].absolute_path)}: {errors[0].message}), so its scheduled runs fail until they are changed")


async def next_run_uses(facade: Facade, model_type: ModelType) -> NextRunUses:
    """What a run of the type that names nothing (a scheduled one) would use now: read as its claim reads it."""
    model = await facade.catalog.active_model(model_type.value)
    dataset = await facade.catalog.active_dataset(model_type.value)
    saved = await facade.catalog.settings(model_type.value)
    return NextRunUses(
        modelId=model.id if model else None, modelName=model.model_name if model else None, modelVersion=model.version if model else None,
        dataSourceId=dataset.id if dataset else None, dataSourceName=dataset.name if dataset else None,
        settingsVersion=saved.version if saved else None,
        settingsValid=None if model is None else not schema_errors(saved.config if saved else {}, model_schema(model)),
    )
