"""Settings per model type: the saved default run config of DMO/RMO/SO, one row per version.

Owns the `type_settings` table. A save never changes a row: it adds the next version, so what a run
used (`JobRun.settings_version`) stays readable. Validation against a model's schema is the caller's
(api/type_settings.py); this module stores and reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TypeSettings


async def current_settings(session: AsyncSession, model_type: str) -> TypeSettings | None:
    """The type's newest saved version; None when it was never saved."""
    return await session.scalar(
        select(TypeSettings).where(TypeSettings.model_type == model_type).order_by(TypeSettings.version.desc()).limit(1))


async def add_version(session: AsyncSession, model_type: str, config: dict[str, Any], changed_by: str) -> TypeSettings:
    """Add the next version (not committed). Two saves racing for one version number: the unique
    (model_type, version) constraint refuses the second at commit."""
    current = await current_settings(session, model_type)
    saved = TypeSettings(model_type=model_type, version=(current.version if current else 0) + 1, config=config, changed_by=changed_by)
    session.add(saved)
    await session.flush()
    return saved
