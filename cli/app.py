"""`optbox` — one command per role, all reading the same OPTBOX_* settings.

  optbox up       everything in the foreground (what `make run` calls)
  optbox api      the facade (FastAPI + Socket.IO) under uvicorn
  optbox worker   a Prefect process worker for the project's work pool
  optbox prefect  the Prefect server (UI + API; --no-services for extra HA replicas)
  optbox prefect-services  Prefect's background services alone (beside --no-services replicas)
  optbox deploy   apply prefect.yaml (work pool, DMO/RMO/SO deployments)
  optbox migrate  bring the database schema to head

As a client of a running optbox (OPTBOX_URL, OPTBOX_TOKEN; see docs/cli.md):

  optbox login | models upload/list/activate | run [--follow] | logs | jobs | cancel | results | try
"""


# Each command imports the parts of the house it runs inside its body: a role loads only its own
# stack (the API never imports Prefect's server, the worker never imports the API), and `prefect`
# must set Prefect's environment before Prefect is first imported.
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Annotated

import typer

from cli.client_app import register as register_client_commands
from cli.roles import prefect_server_env, prefect_services_command, wait_for_prefect, worker_command
from optbox.prefect_env import prefect_env, with_prefect_env
from optbox.settings import PROJECT_DIR, get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
register_client_commands(app)


@app.command()
def migrate() -> None:
    """Bring the database schema to head."""
    from storage.db import migrate as run_migrations

    settings = get_settings()
    run_migrations(settings.resolved_database_url)
    typer.echo(f"database at head: {settings.resolved_database_url}")


@app.command()
def api(port: Annotated[int | None, typer.Option(help="overrides OPTBOX_API_PORT")] = None,
        host: Annotated[str | None, typer.Option(help="overrides OPTBOX_API_HOST")] = None) -> None:
    """Serve the facade: HTTP API + Socket.IO."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    if port is not None:
        settings.api_port = port
    if host is not None:
        settings.api_host = host
    os.environ.update(prefect_env(settings))
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="warning",
                ws="websockets-sansio", timeout_graceful_shutdown=3)


@app.command()
def prefect(services: Annotated[bool, typer.Option("--services/--no-services",
                                                   help="run Prefect's background services too (one process should)")] = True) -> None:
    """Run the Prefect server (its UI on OPTBOX_PREFECT_PORT)."""

    settings = get_settings()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(prefect_server_env(settings, services=services))  # Prefect reads its settings from here, once
    from cli.prefect_server import serve

    serve(settings.prefect_host, settings.prefect_port, services=services)


@app.command("prefect-services")
def prefect_services() -> None:
    """Run Prefect's background services (scheduler, automations, late runs…) for API-only replicas."""

    settings = get_settings()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    command = prefect_services_command()
    os.execvpe(command[0], command, with_prefect_env(settings))


@app.command()
def deploy() -> None:
    """Create the work pool and apply prefect.yaml."""
    from deployments.apply import apply_deployments

    settings = get_settings()
    wait_for_prefect(settings)
    apply_deployments(settings)
    typer.echo(f"applied prefect.yaml to {settings.resolved_prefect_api_url} (pool {settings.work_pool})")


@app.command()
def worker(apply: Annotated[bool, typer.Option("--deploy/--no-deploy", help="apply prefect.yaml first")] = False,
           name: Annotated[str | None, typer.Option(help="worker name shown in the Prefect UI")] = None,
           stock: Annotated[bool, typer.Option("--stock", help="Prefect's stock process worker (cold start per run)")] = False) -> None:
    """Run a Prefect process worker for the project's work pool (warm: runs fork from a preloaded process)."""
    from deployments.apply import apply_deployments

    settings = get_settings()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)  # a worker on its own machine starts with an empty data dir
    os.chdir(PROJECT_DIR)
    os.environ.update(prefect_env(settings))
    wait_for_prefect(settings)
    if apply:
        apply_deployments(settings)
    if stock:
        command = worker_command(settings, name)
        os.execvpe(command[0], command, with_prefect_env(settings))
    import anyio

    from flows.warm_worker import serve

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        anyio.run(serve, settings.work_pool, name)
    except KeyboardInterrupt:
        typer.echo("worker stopped")


def _raise_keyboard_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@app.command()
def up() -> None:
    """Start the Prefect server, a worker and the API together, in the foreground."""
    from honcho.manager import Manager

    from api.auth import check_auth_mode
    from storage.db import migrate as run_migrations

    settings = get_settings()
    check_auth_mode(settings)
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.resolved_database_url)
    optbox = [sys.executable, "-m", "cli"]
    manager = Manager()
    env = dict(os.environ)
    manager.add_process("prefect", _join([*optbox, "prefect"]), env=env)
    manager.add_process("worker", _join([*optbox, "worker", "--deploy"]), env=env)
    manager.add_process("api", _join([*optbox, "api"]), env=env)
    base = f"http://{settings.api_host}:{settings.api_port}"
    sign_in = f"{base}/sandbox" if settings.auth == "off" else f"{base}/sandbox?token={settings.secret('admin_token')}"
    typer.echo(
        f"optbox: sign in at {sign_in}\n"
        f"optbox: API {base}  (docs /docs, health /api/health)\n"
        f"optbox: Prefect UI {settings.resolved_prefect_api_url.removesuffix('/api')}\n"
        f"optbox: data in {settings.resolved_data_dir}; Ctrl-C stops everything"
    )
    threading.Thread(target=_announce_ready, args=(f"{base}/api/health", sign_in), daemon=True).start()
    manager.loop()
    sys.exit(manager.returncode)


READY_POLL_S = 0.5


def _announce_ready(health_url: str, sign_in: str) -> None:
    """One line once health says a run of every type can start (deployments applied, a worker polling)."""
    import httpx

    while True:
        try:
            if httpx.get(health_url, timeout=2).json().get("ready"):
                typer.echo(f"optbox: ready, runs can start now ({sign_in})")
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(READY_POLL_S)


def _join(argv: list[str]) -> str:
    import shlex

    return shlex.join(argv)


if __name__ == "__main__":
    app()
