"""`optbox` as a client of a running optbox: login, models, run (--follow), logs, jobs, cancel, results, try.

Talks to the facade's public HTTP API and Socket.IO only (cli/client.py), never the database, so it works
from any machine that reaches the API. Where a run's lines go: the model's stdout lines at INFO/DEBUG to
stdout, everything else (its stderr, WARNING/ERROR lines, the flow's own lines, summaries) to stderr; with
--json stdout carries one JSON document and every line goes to stderr.

Exit codes: 0 done (a followed run succeeded); 1 the server refused, or the run failed or was cancelled;
2 fix something first (no key, refused key, unreachable server, malformed input); 130 interrupted.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from cli.client import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Api,
    ClientError,
    Connection,
    Follower,
    connect_settings,
    store_credentials,
)
from optbox.protocol import LogLine, ModelType
from optbox.settings import Settings

models_app = typer.Typer(no_args_is_help=True, help="Model versions: upload, list, activate.")

JsonOption = Annotated[bool, typer.Option("--json", help="one JSON document on stdout, for scripts")]
SeqOption = Annotated[bool, typer.Option("--seq", help="prefix each line with its seq")]
LevelOption = Annotated[bool, typer.Option("--level", help="prefix each line with its level")]
ConfigOption = Annotated[str | None, typer.Option("--config", help="the run's CONFIG: a JSON object, or @file.json")]
TypeOption = Annotated[ModelType | None, typer.Option("--type", case_sensitive=False, help="DMO, RMO or SO")]


# ----- output ----------------------------------------------------------------------------------

class LinePrinter:
    """A run's lines to the terminal: the model's plain stdout to stdout, the rest to stderr."""

    def __init__(self, show_seq: bool = False, show_level: bool = False, all_to_stderr: bool = False) -> None:
        self.show_seq, self.show_level, self.all_to_stderr = show_seq, show_level, all_to_stderr

    def __call__(self, line: dict[str, Any]) -> None:
        self.write(line["seq"], line["level"], line["stream"], line["message"])

    def log_line(self, line: LogLine) -> None:
        self.write(line.seq, line.level.value, line.stream.value, line.message)

    def write(self, seq: int, level: str, stream: str, message: str) -> None:
        prefix = (f"{seq:>7} " if self.show_seq else "") + (f"{level:<7} " if self.show_level else "")
        plain = stream == "stdout" and level in ("INFO", "DEBUG") and not self.all_to_stderr
        out = sys.stdout if plain else sys.stderr
        out.write(f"{prefix}{message}\n")
        out.flush()  # a reader of the pipe sees each line as it comes


class ProgressBar:
    """A progress bar for runs that report progress, only when stdout and stderr are both the terminal: the bar
    takes printed lines above itself, which must not move a redirected stdout's lines to the screen."""

    def __init__(self, label: str) -> None:
        console = Console(stderr=True)
        on_terminal = console.is_terminal and sys.stdout.isatty()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                 console=console, transient=True) if on_terminal else None
        self.task = self.progress.add_task(label, total=100, visible=False) if self.progress else None

    def __enter__(self) -> ProgressBar:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def update(self, status: dict[str, Any]) -> None:
        if self.progress is not None and isinstance(status.get("progress"), int | float):
            self.progress.update(self.task, completed=status["progress"], visible=True)


def say(message: str) -> None:
    """A note for the human, on stderr (stdout stays the run's own output)."""
    typer.echo(message, err=True)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def summary(job: dict[str, Any]) -> str:
    status = job["status"]
    if status == "success":
        parts = [f"objective {job['objective_value']}" if job.get("objective_value") is not None else None,
                 f"{job['results_count']} results" if job.get("results_count") is not None else None,
                 f"{job['duration_ms'] / 1000:.1f} s" if job.get("duration_ms") is not None else None]
        return f"job {job['job_id']}: success" + (": " + ", ".join(p for p in parts if p) if any(parts) else "")
    if status == "failed":
        return f"job {job['job_id']}: failed: {job.get('error_message') or 'no error message'}"
    return f"job {job['job_id']}: {status}"


# ----- running a command -----------------------------------------------------------------------

def run_command(work: Awaitable[int | None]) -> None:
    """Run one command's coroutine; a ClientError becomes its one line on stderr and its exit code."""
    try:
        code = asyncio.run(work)
    except ClientError as exc:
        say(f"optbox: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if code:
        raise typer.Exit(code)


def parse_config(value: str | None) -> dict[str, Any] | None:
    """--config as a JSON object, inline or @file.json; anything else is exit 2 before any request."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            raise ClientError(f"--config: cannot read {value[1:]}: {exc.strerror}", EXIT_USAGE) from exc
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ClientError(f"--config is not JSON: {exc}", EXIT_USAGE) from exc
    if not isinstance(config, dict):
        raise ClientError("--config must be a JSON object", EXIT_USAGE)
    return config


async def follow_job(api: Api, job_id: str, printer: LinePrinter, *, cancel_on_interrupt: bool, as_json: bool) -> int:
    """Print the job's lines until it ends: 0 success, 1 failed or cancelled, 130 interrupted."""
    with ProgressBar(job_id) as bar:
        job = await Follower(api, job_id, printer, on_status=bar.update).run()
    if job is None:
        if cancel_on_interrupt:
            try:
                await api.cancel(job_id)
                say(f"optbox: interrupted; asked the server to cancel job {job_id}")
            except ClientError as exc:
                say(f"optbox: interrupted; could not cancel job {job_id}: {exc}")
        else:
            say(f"optbox: detached; job {job_id} goes on (optbox logs {job_id} --follow)")
        return EXIT_INTERRUPTED
    if as_json:
        print_json(job)
    say(summary(job))
    return 0 if job["status"] == "success" else EXIT_FAILED


# ----- commands ----------------------------------------------------------------------------------

def login(url: Annotated[str | None, typer.Option(help="the facade (default OPTBOX_URL)")] = None,
          token: Annotated[str | None, typer.Option(help="the API key (default: asked, hidden)")] = None) -> None:
    """Check an API key against the server and store it (user config dir, mode 0600)."""
    settings = Settings()
    url = (url or settings.url).rstrip("/")
    token = token or settings.token or typer.prompt("API key", hide_input=True)

    async def work() -> None:
        async with Api(Connection(url, token)) as api:
            me = await api.json("GET", "/api/auth/me")
        path = store_credentials(url, token)
        say(f"signed in to {url} as {me['name']} ({me['role']}); key stored in {path}")

    run_command(work())


@models_app.command("upload")
def models_upload(file: Annotated[Path, typer.Argument(help="the model, a .py file")],
                  model_type: Annotated[ModelType, typer.Option("--type", case_sensitive=False, help="DMO, RMO or SO")],
                  description: Annotated[str | None, typer.Option(help="what this version changes")] = None,
                  as_json: JsonOption = False) -> None:
    """Upload a model: a new version, active for its type once it validates."""

    async def work() -> None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ClientError(f"cannot read {file}: {exc.strerror}", EXIT_USAGE) from exc
        async with Api(connect_settings()) as api:
            form = {"modelType": model_type.value, **({"description": description} if description else {})}
            answer = await api.json("POST", "/api/optimization/upload", files={"file": (file.name, data, "text/x-python")}, data=form)
        if as_json:
            print_json(answer)
            return
        model = answer["model"]
        typer.echo(f"{model['model_name']} v{model['version']} (id {model['id']}, {model['model_type']}, {model['status']})")
        say(f"validation: {model['validation_message'] or 'ok'}")
        say(f"environment: its own packages, lock {model['lock_sha256'][:12]} (a worker builds it once, at its first run)"
            if model.get("lock_sha256") else "environment: the base environment")

    run_command(work())


@models_app.command("list")
def models_list(model_type: TypeOption = None, as_json: JsonOption = False) -> None:
    """Model versions, newest first, with their last run."""

    async def work() -> None:
        params = {"type": model_type.value} if model_type else {}
        async with Api(connect_settings()) as api:
            answer = await api.json("GET", "/api/optimization/models", params=params)
        if as_json:
            print_json(answer["models"])
            return
        table = Table("id", "type", "name", "version", "status", "syntax", "uploaded", "last run")
        for m in answer["models"]:
            last = m.get("last_run")
            table.add_row(str(m["id"]), m["model_type"], m["model_name"], f"v{m['version']}", m["status"],
                          "ok" if m["syntax_valid"] else "invalid", m["uploaded_at"][:19],
                          f"{last['status']} {last['job_id']}" if last else "")
        Console().print(table)

    run_command(work())


@models_app.command("activate")
def models_activate(model_id: Annotated[int, typer.Argument(help="the version's id (optbox models list)")], as_json: JsonOption = False) -> None:
    """Make a version the active model of its type (roll back)."""

    async def work() -> None:
        async with Api(connect_settings()) as api:
            answer = await api.json("POST", f"/api/optimization/models/{model_id}/activate")
        if as_json:
            print_json(answer)
        else:
            typer.echo(answer["message"])

    run_command(work())


def run(model_type: Annotated[ModelType, typer.Argument(case_sensitive=False, help="DMO, RMO or SO")],
        model: Annotated[int | None, typer.Option("--model", help="a model version's id (default: the active one)")] = None,
        config: ConfigOption = None,
        data_source: Annotated[int | None, typer.Option("--data-source", help="a dataset's id (default: the active one of the type)")] = None,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="print the run's lines live until it ends")] = False,
        cancel_on_interrupt: Annotated[bool, typer.Option("--cancel/--no-cancel", help="Ctrl-C while following cancels the run")] = True,
        seq: SeqOption = False, level: LevelOption = False, as_json: JsonOption = False) -> None:
    """Start a run; with --follow print its lines as they come and exit 0 on success, 1 on failure."""

    async def work() -> int:
        body: dict[str, Any] = {"modelType": model_type.value, "triggeredBy": "api"}
        parsed = parse_config(config)
        if parsed is not None:
            body["config"] = parsed
        if model is not None:
            body["modelId"] = model
        if data_source is not None:
            body["dataSourceId"] = data_source
        async with Api(connect_settings()) as api:
            started = await api.json("POST", "/api/optimization/execute", json=body)
            job_id = started["jobId"]
            if not follow:
                if as_json:
                    print_json(started)
                else:
                    typer.echo(job_id)  # for JOB=$(optbox run SO)
                return 0
            say(f"job {job_id}: {model_type.value} model id {started['modelId']} v{started['modelVersion']}")
            return await follow_job(api, job_id, LinePrinter(seq, level, all_to_stderr=as_json),
                                    cancel_on_interrupt=cancel_on_interrupt, as_json=as_json)

    run_command(work())


def logs(job_id: str, follow: Annotated[bool, typer.Option("--follow", "-f", help="go on until the run ends")] = False,
         seq: SeqOption = False, level: LevelOption = False, as_json: JsonOption = False) -> None:
    """A run's lines (stored so far, or live with --follow; Ctrl-C then only stops following)."""

    async def work() -> int:
        async with Api(connect_settings()) as api:
            if follow:
                return await follow_job(api, job_id, LinePrinter(seq, level, all_to_stderr=as_json), cancel_on_interrupt=False, as_json=as_json)
            lines, after = [], 0
            while True:
                page = await api.lines_after(job_id, after)
                lines += page["logs"]
                after = page["nextAfterSeq"]
                if not page["hasMore"]:
                    break
        if as_json:
            print_json(lines)
        else:
            printer = LinePrinter(seq, level)
            for line in lines:
                printer(line)
        return 0

    run_command(work())


def jobs(model_type: TypeOption = None, status: Annotated[str | None, typer.Option(help="pending, running, success, failed, cancelled")] = None,
         limit: Annotated[int, typer.Option(min=1, max=500, help="how many, newest first")] = 20, as_json: JsonOption = False) -> None:
    """Run history, newest first."""

    async def work() -> None:
        params: dict[str, Any] = {"limit": limit}
        if model_type:
            params["type"] = model_type.value
        if status:
            params["status"] = status
        async with Api(connect_settings()) as api:
            answer = await api.json("GET", "/api/optimization/jobs", params=params)
        if as_json:
            print_json(answer["jobs"])
            return
        table = Table("job", "type", "model", "status", "created", "duration", "objective", "results")
        for j in answer["jobs"]:
            waiting = f" (#{j['queue_position']} in line)" if j.get("queue_position") else ""
            table.add_row(j["job_id"], j["model_type"], f"{j['model_name'] or '?'} v{j['model_version'] or '?'}", j["status"] + waiting,
                          j["created_at"][:19], f"{j['duration_ms'] / 1000:.1f} s" if j.get("duration_ms") is not None else "",
                          str(j["objective_value"]) if j.get("objective_value") is not None else "",
                          str(j["results_count"]) if j.get("results_count") is not None else "")
        Console().print(table)

    run_command(work())


def cancel(job_id: str, as_json: JsonOption = False) -> None:
    """Cancel a run (the server kills its model)."""

    async def work() -> None:
        async with Api(connect_settings()) as api:
            answer = await api.cancel(job_id)
        if as_json:
            print_json(answer)
        else:
            typer.echo(f"job {job_id}: {answer['status']} (Prefect: {answer['prefectState']})")

    run_command(work())


def results(job_id: str, out: Annotated[Path | None, typer.Option("--out", help="download the files into this directory")] = None,
            as_json: JsonOption = False) -> None:
    """A run's result files: listed, or downloaded with --out."""

    async def work() -> None:
        async with Api(connect_settings()) as api:
            files = await api.json("GET", f"/api/optimization/jobs/{job_id}/results")
            if out is not None:
                for entry in files:
                    target = out.joinpath(*safe_parts(entry["name"]))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes((await api.request("GET", entry["url"])).content)
                    entry["path"] = str(target)
        if as_json:
            print_json(files)
            return
        table = Table("name", "size", "sha256", *(["saved as"] if out is not None else []))
        for entry in files:
            table.add_row(entry["name"], str(entry["size"]), entry["sha256"][:12], *([entry["path"]] if out is not None else []))
        Console().print(table)

    run_command(work())


def safe_parts(name: str) -> list[str]:
    """A result's name as path parts that stay inside the target directory."""
    parts = [part for part in PurePosixPath(name).parts if part not in ("", ".", "..", "/")]
    if not parts:
        raise ClientError(f"result name {name!r} names no file")
    return parts


def try_(model: Annotated[Path, typer.Argument(help="the model, a .py file")],
         model_type: Annotated[ModelType, typer.Option("--type", case_sensitive=False, help="DMO, RMO or SO")],
         config: ConfigOption = None,
         data: Annotated[Path | None, typer.Option("--data", help="the input dataset (DATA_PATH)")] = None,
         out: Annotated[Path | None, typer.Option("--out", help="keep the result files here")] = None,
         seq: SeqOption = False, level: LevelOption = False, as_json: JsonOption = False) -> None:
    """Run a model here, without a server, exactly as a worker runs it; show what optbox would record."""

    async def work() -> int:
        parsed = parse_config(config) or {}
        if data is not None and not data.is_file():
            raise ClientError(f"--data: {data} is not a file", EXIT_USAGE)
        # deferred: the flow's code path loads Prefect, which the other client commands never need
        from cli.try_model import try_model

        printer = LinePrinter(seq, level, all_to_stderr=as_json)
        outcome = await try_model(model, model_type, parsed, data, out, printer.log_line)
        if as_json:
            print_json(outcome.as_json())
        report = outcome.report
        if outcome.error is None:
            parts = [f"objective {report.objective_value}" if report.objective_value is not None else "no objective reported",
                     f"{report.results_count} results" if report.results_count is not None else "no results count reported",
                     f"{len(outcome.result_files)} result file(s)" + (f" in {out}" if out is not None and outcome.result_files else "")]
            say("try: success: " + ", ".join(parts))
            return 0
        say(f"try: failed: {outcome.error}")
        return EXIT_FAILED

    run_command(work())


def register(app: typer.Typer) -> None:
    """Add the client commands to the `optbox` app."""
    app.command()(login)
    app.add_typer(models_app, name="models")
    app.command()(run)
    app.command()(logs)
    app.command()(jobs)
    app.command()(cancel)
    app.command()(results)
    app.command("try")(try_)
