"""The automation that turns a lost worker into a Crashed run.

Flow runs emit `prefect.flow-run.heartbeat` every OPTBOX_RUN_HEARTBEAT_S
(PREFECT_FLOWS_HEARTBEAT_FREQUENCY, set by optbox.prefect_env). When a worker's machine
dies its runs stop beating; this proactive automation expects the next beat (or
a final state) within heartbeat + grace seconds and otherwise proposes Crashed.
The proposal is not forced, so a run that did finish keeps its final state.
The mirror then maps Crashed to a failed JobRun.
"""

from __future__ import annotations

from datetime import timedelta

from optbox.settings import Settings

AUTOMATION_NAME = "optbox: crash runs whose heartbeat stopped"


def crash_automation(settings: Settings):
    from prefect.automations import AutomationCore
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    final = [f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")]
    return AutomationCore(
        name=AUTOMATION_NAME,
        description="A flow run whose worker died stops sending heartbeats; mark it Crashed.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *final},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=settings.run_heartbeat_s + settings.run_heartbeat_grace_s),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, name="Crashed",
                                    message="its worker stopped sending heartbeats (worker or machine lost)")],
    )


async def ensure_crash_automation(settings: Settings) -> None:
    """Create the automation, or bring an existing one to the current settings."""
    from prefect.client.orchestration import PrefectClient

    wanted = crash_automation(settings)
    async with PrefectClient(api=settings.resolved_prefect_api_url) as client:
        existing = await client.read_automations_by_name(AUTOMATION_NAME)
        if not existing:
            await client.create_automation(wanted)
            return
        await client.update_automation(existing[0].id, wanted)
        for duplicate in existing[1:]:  # two workers deploying at once may both have created it
            await client.delete_automation(duplicate.id)
