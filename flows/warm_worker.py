"""A Prefect process worker that starts flow runs warm.

The stock process worker starts each flow run as a fresh `python -m prefect.engine`
(behind a workspace supervisor): on this project's 2-core machines that is two
interpreter starts and two imports of Prefect, 10-15 s before a model prints its
first line. This worker keeps one *forkserver* process that has Prefect and the
flow imported; each flow run is forked from it in milliseconds, runs in its own
session (so cancelling kills the flow and its model together), and is still an
ordinary Prefect flow run of its deployment: same states, logs, retries and
cancellation, driven by Prefect's own FlowRunExecutor.

Start latency: the worker asks Prefect for runs as soon as Prefect announces one
(`prefect.flow-run.Scheduled`), not only every OPTBOX_WORKER_POLL_S; the forkserver
preloads what a run would import and builds TLS contexts once (see `make bench`, case c).

Contract: serves pools of type "process"; honours the deployment's job env
(FLOW_RETRIES_ENV etc., optbox/protocol.py), read per run, not at import. What it uses of Prefect's
runner internals comes from optbox/patches.py (`prefect-warm-worker`); with that patch off or on another
Prefect version, `serve` runs Prefect's stock process worker instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import multiprocessing
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import anyio.abc
from prefect.client.schemas.objects import FlowRun
from prefect.workers.base import BaseWorker
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker, ProcessWorkerResult
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from flows.facade import is_transient
from optbox import patches, sandbox
from optbox.protocol import FLOW_ENTRY_ENV, flow_retry_policy
from optbox.settings import PROJECT_DIR

# What a flow run would otherwise import after the fork (found by profiling a run with py-spy):
# the task engine and the graph helper its tasks pull in, anyio's asyncio backend, idna for URLs, rich's
# emoji table (the console log handler loads it at a run's first log line); then the worker's own main module
# (`_main_module`), and last the heap freeze every run inherits.
PRELOAD = ["prefect.flow_engine", "prefect.context", "prefect.task_engine", "prefect.utilities.visualization",
           "anyio._backends._asyncio", "encodings.idna", "rich._emoji_codes", "flows.market", "flows.maintenance",
           "flows.warm_worker"]
HEAP_FREEZE = "flows.forkserver_heap"
# A deployment names its flow in its job env (prefect.yaml, FLOW_ENTRY_ENV); model runs are the default.
DEFAULT_FLOW_ENTRY = "flows.market:run_optimization_model"
_CONTROL_ENV = ("PREFECT__CONTROL_PORT", "PREFECT__CONTROL_TOKEN")
log = logging.getLogger(__name__)


def _prefect_ca_file() -> str:
    """The CA file Prefect's client verifies its API with (prefect.client.orchestration, PrefectClient)."""
    import certifi
    from prefect.settings import PREFECT_API_SSL_CERT_FILE

    return PREFECT_API_SSL_CERT_FILE.value() or certifi.where()


def forkserver() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *_main_module(), HEAP_FREEZE])
    return context


def _main_module() -> list[str]:
    """The worker's main module when it was started with `-m MODULE`: multiprocessing runs that module again,
    as __mp_main__, in every process the forkserver forks, so it is preloaded there (a module's imports not
    preloaded cost each run's start their import time). A package's `__main__` — `python -m cli worker`, as
    `optbox up` starts it — is neither re-run (multiprocessing skips it) nor preloaded: importing one runs its program."""
    name = getattr(getattr(sys.modules["__main__"], "__spec__", None), "name", None) or "__main__"
    return [] if name == "__main__" or name.endswith(".__main__") else [name]


def warm_up() -> None:
    """Start the forkserver now (it imports Prefect and the flow once), not at the first run."""
    process = forkserver().Process(target=_noop)
    process.start()
    process.join()


def _noop() -> None:
    pass


def run_forked_flow_run(flow_run: FlowRun, env: dict[str, str]) -> None:
    """Body of a forked child: become a session leader, take the run's env, run the flow."""
    os.setsid()
    rebuild_settings = prefect_settings_differ(env, os.environ, os.getcwd())
    os.chdir(PROJECT_DIR)
    os.environ.update(env)

    from prefect.context import SettingsContext, get_settings_context
    from prefect.engine import handle_engine_signals
    from prefect.flow_engine import run_flow
    from prefect.settings import Settings

    flow = _flow_with_policy(env)
    own_settings = SettingsContext(profile=get_settings_context().profile, settings=Settings()) if rebuild_settings else contextlib.nullcontext()
    with own_settings, handle_engine_signals(flow_run.id):
        outcome = run_flow(flow, flow_run=flow_run)
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)


def prefect_settings_differ(env: Mapping[str, str], inherited: Mapping[str, str], cwd: str) -> bool:
    """Whether a run's env (or its working directory) would give Prefect other settings than the forkserver's.

    The forkserver built its settings from the worker's environment in the project directory, and a run's
    env repeats them (Prefect's worker passes its own settings on, rendered as PREFECT_* variables); only a
    deployment that sets one of its own needs them built again, which reads every variable and settings file."""
    if Path(cwd) != PROJECT_DIR:  # both real paths: getcwd's and the settings' resolved one
        return True
    rendered = own_settings_rendered()
    return any(value not in (inherited.get(name), rendered.get(name)) for name, value in env.items()
               if name.startswith("PREFECT_") and not name.startswith("PREFECT__"))


@functools.cache
def own_settings_rendered() -> dict[str, str]:
    """This process's Prefect settings as the worker renders them into a run's env (computed at import, so
    the forkserver's rendering is inherited by every run forked from it)."""
    from prefect.settings import get_current_settings

    return get_current_settings().to_environment_variables(exclude_unset=True)


def _flow_with_policy(env: dict[str, str]):
    """The run's flow with its deployment's retry policy (a copy only when that differs from the flow's own)."""
    flow = _load_flow(env.get(FLOW_ENTRY_ENV, DEFAULT_FLOW_ENTRY))
    retries, retry_delay_s = flow_retry_policy(env)
    if (flow.retries, flow.retry_delay_seconds) == (retries, retry_delay_s):
        return flow
    return flow.with_options(retries=retries, retry_delay_seconds=retry_delay_s)


class ForkedFlowStarter:
    """Prefect ProcessStarter: a flow run as a child of the warm forkserver."""

    def __init__(self, *, env: dict[str, str | None], control_channel: Any) -> None:
        self._env = {key: value for key, value in env.items() if value is not None}
        self._control_channel = control_channel

    async def start(self, flow_run: FlowRun, task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED) -> None:
        env = dict(self._env)
        if self._control_channel is not None:
            try:
                port, token = self._control_channel.register(flow_run.id)
                env.update(zip(_CONTROL_ENV, (str(port), token), strict=True))
            except RuntimeError:
                pass  # no loopback listener: cancellation falls back to kill-only
        process = forkserver().Process(target=run_forked_flow_run, args=(flow_run, env), name=f"flow-run-{flow_run.id}")
        await anyio.to_thread.run_sync(process.start)
        task_status.started(RUNNER.ProcessHandle(process, termination_scope=RUNNER.create_isolated_termination_scope(process.pid)))
        await anyio.to_thread.run_sync(process.join)


def _load_flow(entry: str):
    """`module:attribute` of one of the project's flows."""
    module, _, attribute = entry.partition(":")
    if module not in ("flows.market", "flows.maintenance"):
        raise ValueError(f"{FLOW_ENTRY_ENV}={entry!r} is not one of the project's flows")
    return getattr(importlib.import_module(module), attribute)


# At import: in the forkserver (preloaded, so every forked run inherits the contexts) and in the worker alike.
patches.share_default_tls_contexts([_prefect_ca_file()])
patches.watch_for_suspension_meanwhile()
own_settings_rendered()
RUNNER = patches.prefect_runner()  # None: Prefect's stock process worker runs the flows (see `serve`)


def _flow_resolver(env: dict[str, str | None]):
    async def resolve(_: FlowRun):
        """The flow object, for Prefect's on_cancellation/on_crashed hook runner."""
        return _load_flow(env.get(FLOW_ENTRY_ENV) or DEFAULT_FLOW_ENTRY)

    return resolve


with warnings.catch_warnings():
    # Same pool type as Prefect's ProcessWorker on purpose (pools, UI and job template stay stock);
    # Prefect's type registry warns that this class now answers for "process" in this process.
    warnings.simplefilter("ignore", UserWarning)

    class WarmProcessWorker(ProcessWorker):
        type = "process"

        async def run(self, flow_run: FlowRun, configuration: ProcessJobConfiguration,
                      task_status: anyio.abc.TaskStatus[int] | None = None) -> ProcessWorkerResult:
            task_status = task_status or anyio.TASK_STATUS_IGNORED
            execution = None
            async with RUNNER.FlowRunExecutorContext() as ctx:
                starter = ForkedFlowStarter(env=configuration.env, control_channel=ctx.control_channel)
                executor = ctx.create_executor(flow_run, starter, resolve_flow=_flow_resolver(configuration.env), propose_submitting=False)

                async def execute(*, task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED) -> None:
                    nonlocal execution
                    execution = await executor.submit(task_status=task_status)

                async with anyio.create_task_group() as group:
                    handle = await group.start(execute)
                    task_status.started(handle.pid)
            if execution is None or execution.status_code is None:
                raise RuntimeError("the flow run process did not start")
            return ProcessWorkerResult(status_code=execution.status_code, identifier=str(execution.handle.pid))


LABELS_PATIENCE_S = 30.0


async def _label_patiently(give_labels, flow_run_id: UUID) -> None:
    """Labels name the worker in Prefect's UI; a Prefect too busy to take them (503s past its client's
    retries, seen right after a burst of executes) is asked again for LABELS_PATIENCE_S, then the run goes
    on without them. Stock Prefect crashes the run there, before it has started."""
    try:
        async for attempt in AsyncRetrying(retry=retry_if_exception(is_transient), wait=wait_exponential(multiplier=0.1, max=2.0),
                                           stop=stop_after_delay(LABELS_PATIENCE_S), reraise=True):
            with attempt:
                await give_labels()
    except Exception as exc:  # noqa: BLE001 - cosmetic: never worth a crashed run
        log.warning("flow run %s goes on without its worker labels: %s", flow_run_id, exc)


labelling: set[asyncio.Task[None]] = set()  # runs' labels still on their way to Prefect


async def _label_meanwhile(give_labels, flow_run_id: UUID) -> None:
    """The run is forked while its labels go to Prefect: they are a view, and waiting for them put a round trip
    to Prefect (and a busy one's retries) between every click and its first line."""
    task = asyncio.create_task(_label_patiently(give_labels, flow_run_id), name=f"label-{flow_run_id}")
    labelling.add(task)
    task.add_done_callback(labelling.discard)


patches.label_flow_runs_patiently(WarmProcessWorker, _label_meanwhile)
patches.render_worker_settings_once(ProcessJobConfiguration)


def announce_sandbox(printer=print) -> None:
    """Say at start which protections model runs get here, and loudly which they lack."""
    protections = sandbox.probe()
    printer(f"optbox worker: sandbox {protections.model_dump_json(exclude={'missing'})}")
    for gap in protections.missing:
        printer(f"optbox worker: WARNING: sandbox degraded: {gap}")


async def poll_when_scheduled(worker: BaseWorker) -> None:
    """Ask Prefect for runs the moment one is scheduled instead of at the next poll.

    Prefect publishes `prefect.flow-run.Scheduled` on its events websocket when a run is
    created; each one triggers the worker's own `get_and_submit_flow_runs` (which skips
    runs already being submitted). The periodic poll stays as the fallback: a missed event
    costs at most one poll interval, never a run."""
    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter

    scheduled = EventFilter(event=EventNameFilter(name=["prefect.flow-run.Scheduled"]))
    while True:
        try:
            async with get_events_subscriber(filter=scheduled, reconnect_on_clean_close=True) as subscriber:
                async for _ in subscriber:
                    if patches.worker_has_synced(worker):
                        await worker.get_and_submit_flow_runs()
        except Exception:  # noqa: BLE001 - the event stream is an accelerator; polling carries on without it
            log.warning("Prefect's event stream is unavailable; starting runs at the poll interval", exc_info=True)
        await anyio.sleep(5)


async def serve(work_pool: str, name: str | None = None) -> None:
    """Run the warm worker until cancelled (Prefect's stock process worker when the patch is off)."""
    await anyio.to_thread.run_sync(announce_sandbox)
    if RUNNER is None:
        async with ProcessWorker(work_pool_name=work_pool, name=name) as worker:
            await worker.start(printer=print)
        return
    await anyio.to_thread.run_sync(warm_up)
    async with WarmProcessWorker(work_pool_name=work_pool, name=name) as worker:
        # a plain task, not a task group: the worker's own loops own the cancel scopes at shutdown
        wake_up = asyncio.create_task(poll_when_scheduled(worker), name="poll-when-scheduled")
        try:
            await worker.start(printer=print)
        finally:
            wake_up.cancel()
            await asyncio.gather(wake_up, return_exceptions=True)
