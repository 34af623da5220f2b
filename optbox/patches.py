"""Tuning of other libraries and of the interpreter, in one place.

Every change to another library's behaviour that its public API does not offer, and every use of a
library's private names, lives here and only here. Each patch:

- is applied explicitly by the role that wants it (the facade at start, the worker and its forkserver),
  never at import;
- names the library and the versions it was written and measured against (`tested`); on any other
  version it is not applied, and that is logged (an upgrade falls back to stock behaviour, it does not
  silently break);
- can be switched off: OPTBOX_PATCHES_OFF=name,name (or `all`) runs the stock library;
- lists the symbols it relies on (`symbols`): tests/optbox/test_patches.py fails when one disappears.

What each one buys is measured by `make bench` (bench/README.md lists the cases).
"""

from __future__ import annotations

import functools
import gc
import importlib
import logging
import os
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import SimpleNamespace
from typing import Any

from packaging.specifiers import SpecifierSet

from optbox.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
    name: str
    library: str  # the distribution whose behaviour it changes; "python" for the interpreter
    tested: str  # PEP 440 versions it was written and measured against
    symbols: tuple[str, ...]  # "module:attribute.attribute" it relies on
    why: str


GC_FREEZE = Patch(
    "gc-freeze", "python", ">=3.11,<3.13", ("gc:freeze", "gc:set_threshold"),
    "the startup heap out of the collector's reach and rarer full collections: the facade's event loop is not "
    "held by full collections walking every imported object, and forked flow runs do not walk what they inherit")
SHARED_TLS_CONTEXTS = Patch(
    "shared-tls-contexts", "httpx", "==0.28.*",
    ("httpx._config:create_ssl_context", "httpx._transports.default:create_ssl_context", "ssl:create_default_context"),
    "one default TLS context per process instead of one per client: a flow run opens about ten clients, each "
    "loading every CA certificate")
LIMITS_EXPIRY_ON_HITS = Patch(
    "limits-expiry-on-hits", "limits", ">=5.0,<6",
    ("limits.storage:MemoryStorage._MemoryStorage__schedule_expiry", "limits.storage:MemoryStorage._MemoryStorage__expire_events"),
    "the in-memory rate limiter drops expired entries on hits at most once a second instead of starting a timer "
    "thread every 10 ms, which held the facade's event loop under a burst of executes")
MULTIPART_IN_MEMORY = Patch(
    "multipart-in-memory", "starlette", ">=0.40,<2", ("starlette.formparsers:MultiPartParser.spool_max_size",),
    "uploads up to the upload limit are parsed in memory (they are read whole right after) instead of spooled "
    "to a temporary file and read back")
PREFECT_WARM_WORKER = Patch(
    "prefect-warm-worker", "prefect", "==3.9.1",
    ("prefect.runner._flow_run_executor:FlowRunExecutorContext", "prefect.runner._flow_run_executor:FlowRunExecutionResult",
     "prefect.runner._process_manager:ProcessHandle", "prefect.runner._process_manager:create_isolated_termination_scope",
     "prefect.workers.base:BaseWorker._give_worker_labels_to_flow_run", "prefect.workers.base:BaseWorker.get_and_submit_flow_runs",
     "prefect.workers.base:BaseJobConfiguration._base_environment"),
    "flow runs forked from a warm forkserver with Prefect's own executor (seconds off every click → first line), "
    "woken by Prefect's Scheduled events, with the worker's settings rendered into a run's environment once, "
    "not per run, and runs that go on when Prefect is too busy to label them")

PREFECT_SUSPENSION_WATCH_MEANWHILE = Patch(
    "prefect-suspension-watch-meanwhile", "prefect", "==3.9.1", ("prefect.flow_engine:observe_flow_run_suspension",),
    "a flow run starts while its watch for suspension requests subscribes to Prefect's events, instead of after: "
    "the subscription was a round trip to Prefect between Pending and Running of every run (a request in "
    "that moment is still seen, at the watch's next poll)")

PATCHES = {patch.name: patch for patch in (GC_FREEZE, SHARED_TLS_CONTEXTS, LIMITS_EXPIRY_ON_HITS, MULTIPART_IN_MEMORY, PREFECT_WARM_WORKER,
                                           PREFECT_SUSPENSION_WATCH_MEANWHILE)}


def installed_version(library: str) -> str | None:
    if library == "python":
        return ".".join(map(str, sys.version_info[:3]))
    try:
        return version(library)
    except PackageNotFoundError:
        return None


@functools.cache
def active(patch: Patch) -> bool:
    """Whether `patch` applies in this process: not switched off, and the library's version is one it was checked
    against. Decided (and logged when not) once per process."""
    off = get_settings().patches_off
    if "all" in off or patch.name in off:
        log.info("optbox patch %s is off (OPTBOX_PATCHES_OFF): %s runs stock", patch.name, patch.library)
        return False
    found = installed_version(patch.library)
    if found is None or found not in SpecifierSet(patch.tested):
        log.warning("optbox patch %s not applied: %s %s is not a version it was checked against (%s); running stock",
                    patch.name, patch.library, found, patch.tested)
        return False
    return True


def missing_symbols(patch: Patch) -> list[str]:
    """The symbols `patch` relies on that this installation lacks."""
    missing = []
    for symbol in patch.symbols:
        module, _, path = symbol.partition(":")
        try:
            functools.reduce(getattr, path.split("."), importlib.import_module(module))
        except (ImportError, AttributeError):
            missing.append(symbol)
    return missing


# ----- the interpreter's garbage collector --------------------------------------------------------

FULL_COLLECTION_EVERY = 1000  # young-generation collections between two full ones (Python's default: 10)


def freeze_startup_heap() -> None:
    """Put what a process allocated while starting (modules, the app, Prefect's client) out of the
    garbage collector's reach. Its full collections then walk only what was made since: in the
    facade under an output flood they had walked every startup object every few seconds, each
    time holding the event loop (`make bench` case g). Call once, when started."""
    if active(GC_FREEZE):
        gc.collect()
        gc.freeze()


def spread_full_collections() -> None:
    """Make full collections a hundred times rarer. With the startup heap frozen, what survives the young
    collections soon passes Python's 25 % test for a full one, and a burst of requests met full collections
    that every request in flight waited out. The young collections still free most cycles; the rest is freed
    at the next full one."""
    if active(GC_FREEZE):
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


# ----- httpx and ssl: TLS contexts ----------------------------------------------------------------


def share_default_tls_contexts(ca_files: list[str]) -> None:
    """Build the default TLS contexts once per process instead of once per client.

    Each httpx client loads every CA certificate into a fresh SSLContext, and a flow run opens about ten
    clients (Prefect's API, events, logs, the facade). Applied in the worker's forkserver, the one context
    is inherited by every forked flow run. Only the default case (verify=True, no client certificate) is
    shared, and `ssl.create_default_context(cafile=F)` for each F of `ca_files` (Prefect's clients build
    theirs so and never change it afterwards); any other call gets a fresh context."""
    if not active(SHARED_TLS_CONTEXTS):
        return
    # deferred: only the roles that apply this import httpx's internals
    from httpx import _config
    from httpx._transports import default

    if getattr(default.create_ssl_context, "shared_default", False):
        return
    create = _config.create_ssl_context

    @functools.cache
    def default_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
        return create()

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is True and cert is None and trust_env:
            return default_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        return create(verify=verify, cert=cert, trust_env=trust_env)

    create_ssl_context.shared_default = True  # type: ignore[attr-defined]
    default.create_ssl_context = create_ssl_context
    default_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))

    fresh_context = ssl.create_default_context

    @functools.cache
    def verified_context(cafile: str) -> ssl.SSLContext:
        return fresh_context(cafile=cafile)

    def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        if not args and kwargs.keys() == {"cafile"} and isinstance(kwargs["cafile"], str):
            return verified_context(kwargs["cafile"])
        return fresh_context(*args, **kwargs)

    ssl.create_default_context = create_default_context
    for ca_file in ca_files:  # built before any run is forked: each run's clients ask for them
        verified_context(ca_file)


# ----- limits: the in-memory rate limiter's expiry ------------------------------------------------

EXPIRE_EVERY_S = 1.0


def rate_limit_memory_storage():
    """limits' MemoryStorage; with the patch on, its expired entries are dropped by a hit at most every
    EXPIRE_EVERY_S instead of by a new timer thread every 10 ms (under a burst of executes those thread
    starts held the facade's event loop). Expiry only bounds memory: a moving window compares its
    entries' times itself."""
    from limits.storage import MemoryStorage  # deferred: the facade alone uses it

    if not active(LIMITS_EXPIRY_ON_HITS):
        return MemoryStorage()
    return _expiring_on_hits()()


@functools.cache
def _expiring_on_hits() -> type:
    from limits.storage import MemoryStorage

    class ExpiredByCallers(MemoryStorage):
        expire_every_s = EXPIRE_EVERY_S

        def __init__(self) -> None:
            super().__init__()
            self.timer.cancel()  # the one its constructor started
            self.expired_at = time.monotonic()

        def _MemoryStorage__schedule_expiry(self) -> None:  # the hook limits calls on every hit
            if time.monotonic() - self.expired_at >= self.expire_every_s:
                self.expired_at = time.monotonic()
                self._MemoryStorage__expire_events()

    return ExpiredByCallers


# ----- starlette: multipart parsing ---------------------------------------------------------------


def parse_uploads_in_memory(max_bytes: int) -> None:
    """Let uploads up to `max_bytes` stay in memory while parsed. Class-wide (Starlette reads the class
    attribute), so only raised, never lowered below what another app in the process asked for."""
    if active(MULTIPART_IN_MEMORY):
        from starlette.formparsers import MultiPartParser

        MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_bytes)


# ----- prefect: the warm worker's use of Prefect's runner internals --------------------------------


def prefect_runner() -> SimpleNamespace | None:
    """Prefect's flow-run executor and process handles, which the warm worker drives (flows/warm_worker.py);
    None when the patch is off or Prefect is another version: the worker then runs Prefect's stock
    process worker."""
    if not active(PREFECT_WARM_WORKER):
        return None
    from prefect.runner import _flow_run_executor, _process_manager

    return SimpleNamespace(
        FlowRunExecutorContext=_flow_run_executor.FlowRunExecutorContext,
        FlowRunExecutionResult=_flow_run_executor.FlowRunExecutionResult,
        ProcessHandle=_process_manager.ProcessHandle,
        create_isolated_termination_scope=_process_manager.create_isolated_termination_scope,
    )


def worker_has_synced(worker: Any) -> bool:
    """Whether a Prefect worker's poll loop has synced with its work pool (and may submit runs)."""
    return getattr(worker, "_has_successfully_synced", False)


def label_flow_runs_patiently(worker_class: type, retrying: Callable[[Callable[[], Awaitable[None]], Any], Awaitable[None]]) -> None:
    """Prefect's worker labels each run it starts and crashes the run when Prefect is too busy to take the
    labels. `retrying(give_labels, flow_run_id)` runs the labelling under the caller's retry policy and decides what a run
    does when it still fails (the warm worker: go on without labels)."""
    if not active(PREFECT_WARM_WORKER):
        return
    stock = worker_class._give_worker_labels_to_flow_run

    async def give_labels(self, flow_run_id):
        await retrying(lambda: stock(self, flow_run_id), flow_run_id)

    worker_class._give_worker_labels_to_flow_run = give_labels


def render_worker_settings_once(job_configuration: type) -> None:
    """Prefect's worker renders its whole settings object into every run's environment (PREFECT_* variables),
    a walk over every settings model for each run it starts, before the run is forked. The same settings
    object renders the same variables: `job_configuration` keeps the last rendering, per settings object
    (a changed settings context renders anew), and hands out copies."""
    if not active(PREFECT_WARM_WORKER):
        return
    from prefect.settings import get_current_settings

    render = job_configuration._base_environment
    last: dict[str, Any] = {"settings": None, "env": {}}

    def base_environment(cls: type) -> dict[str, str]:
        settings = get_current_settings()
        if last["settings"] is not settings:
            last.update(settings=settings, env=render())
        return dict(last["env"])

    job_configuration._base_environment = classmethod(base_environment)


def watch_for_suspension_meanwhile() -> None:
    """Prefect's flow engine enters `observe_flow_run_suspension` before a deployment's run proposes Running;
    entering it subscribes to Prefect's events and waits until subscribed. With the patch, it is entered on a
    thread of its own while the run goes on, and left (after that thread) when the run ends."""
    if not active(PREFECT_SUSPENSION_WATCH_MEANWHILE):
        return
    import contextlib
    import threading

    from prefect import flow_engine

    observe = flow_engine.observe_flow_run_suspension
    if getattr(observe, "meanwhile", False):
        return

    @contextlib.contextmanager
    def observe_meanwhile(*args: Any, **kwargs: Any):
        watch = observe(*args, **kwargs)
        entering = threading.Thread(target=watch.__enter__, name="suspension-watch", daemon=True)
        entering.start()
        try:
            yield
        finally:
            entering.join()
            watch.__exit__(None, None, None)

    observe_meanwhile.meanwhile = True  # type: ignore[attr-defined]
    flow_engine.observe_flow_run_suspension = observe_meanwhile
