"""The DMO/RMO/SO schedules: read and change them in Prefect (the one place they live), audited here.

Prefect keeps each type's deployment schedule; pausing or re-croning goes through its deployment
schedule API, so its scheduler and its UI agree with the page. Next run times are computed with
Prefect's own cron schedule, the one its scheduler uses, so a paused schedule still says when it
would run. Each type's answer also says which model version, dataset and settings its next run uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from prefect.client.schemas.objects import DeploymentSchedule
from prefect.client.schemas.schedules import CronSchedule
from prefect.server.schemas.schedules import CronSchedule as ServerCronSchedule
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Identity, Role, may
from api.context import Facade
from api.errors import ApiError
from api.orchestrator import DeploymentMissing, ScheduleMissing
from api.schemas import NextRun, ScheduleChange, ScheduleOut
from api.type_settings import next_run_uses
from optbox.protocol import ModelType
from storage import audit

NEXT_RUNS = 3


async def next_runs(schedule: CronSchedule, count: int = NEXT_RUNS, now: datetime | None = None) -> list[NextRun]:
    timezone = ZoneInfo(schedule.timezone or "UTC")
    dates = await ServerCronSchedule(cron=schedule.cron, timezone=schedule.timezone, day_or=schedule.day_or).get_dates(
        n=count, start=now or datetime.now(UTC))
    return [NextRun(utc=date.astimezone(UTC), local=date.astimezone(timezone)) for date in dates]


async def describe(model_type: ModelType, schedule: DeploymentSchedule) -> ScheduleOut:
    cron = schedule.schedule
    assert isinstance(cron, CronSchedule)  # Orchestrator.read_schedule returns cron schedules only
    return ScheduleOut(modelType=model_type, cron=cron.cron, timezone=cron.timezone or "UTC", active=schedule.active,
                       nextRuns=await next_runs(cron))


async def read_schedule(facade: Facade, model_type: ModelType) -> ScheduleOut:
    """The type's schedule as Prefect has it, and what its next run will use (api/type_settings.py)."""
    try:
        schedule = await describe(model_type, await facade.orchestrator.read_schedule(model_type))
    except (DeploymentMissing, ScheduleMissing) as exc:
        raise ApiError(503, str(exc)) from exc
    except httpx.TransportError as exc:
        raise ApiError(503, f"Prefect did not answer ({exc}); try again") from exc
    schedule.nextRunUses = await next_run_uses(facade, model_type)
    return schedule


def parse_cron(cron: str, timezone: str | None) -> CronSchedule:
    """Prefect's own check (five fields, no random/hashed expressions), as a 422 that names the cron."""
    try:
        return CronSchedule(cron=cron.strip(), timezone=timezone)
    except ValidationError:
        raise ApiError(422, f"cron {cron!r} is not a valid cron expression (five fields: minute hour day month weekday, e.g. '0 10 * * *')",
                       {"cron": cron}) from None


async def change_schedule(facade: Facade, session: AsyncSession, model_type: ModelType, change: ScheduleChange, actor: Identity) -> ScheduleOut:
    """Operators pause/resume, admins also change the cron; refused (nothing changed) before Prefect is asked."""
    if change.active is None and change.cron is None:
        raise ApiError(422, "nothing to change: give active and/or cron")
    if change.cron is not None and not may(actor.role, Role.admin):
        raise ApiError(403, f"role {actor.role.value} may not change a schedule's cron; it needs admin")
    try:
        before = await facade.orchestrator.read_schedule(model_type)
        assert isinstance(before.schedule, CronSchedule)
        cron = parse_cron(change.cron, before.schedule.timezone) if change.cron is not None else None
        after = await facade.orchestrator.update_schedule(model_type, active=change.active, cron=cron)
    except (DeploymentMissing, ScheduleMissing) as exc:
        raise ApiError(503, str(exc)) from exc
    except httpx.TransportError as exc:
        raise ApiError(503, f"Prefect did not answer ({exc}); try again") from exc
    assert isinstance(after.schedule, CronSchedule)
    what = []
    if change.active is not None:
        what.append("resumed" if after.active else "paused")
    if cron is not None:
        what.append(f"cron {before.schedule.cron!r} → {after.schedule.cron!r}")
    audit.record_activity(session, "schedule", "schedule", model_type.value, f"{model_type.value} schedule: {', '.join(what)}",
                          actor.name, actor.role.value,
                          {"before": {"cron": before.schedule.cron, "active": before.active},
                           "after": {"cron": after.schedule.cron, "active": after.active}})
    await session.commit()
    return await describe(model_type, after)
