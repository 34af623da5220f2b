"""Settings per model type: read (with whether the active model's schema accepts them) and save a new version."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Operator, Viewer
from api.deps import SessionDep
from api.routes.models import parse_model_type
from api.schemas import SettingsChange, SettingsOut
from api.type_settings import read_settings, save_settings

router = APIRouter(prefix="/api/optimization", tags=["settings"])


@router.get("/settings/{model_type}", response_model=SettingsOut)
async def get_settings(session: SessionDep, _: Viewer, model_type: str) -> SettingsOut:
    """The type's saved default run config (version 0: never saved), checked against its active model's CONFIG_SCHEMA."""
    return await read_settings(session, parse_model_type(model_type))


@router.put("/settings/{model_type}", response_model=SettingsOut)
async def put_settings(session: SessionDep, who: Operator, model_type: str, change: SettingsChange) -> SettingsOut:
    """Save `{config}` as the type's next settings version (audited); a config the active model's schema
    refuses is a 422 naming the field, and nothing is saved."""
    return await save_settings(session, parse_model_type(model_type), change.config, who)
