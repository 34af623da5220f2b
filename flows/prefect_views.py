"""What a run shows in Prefect's own UI: a flow run name that says what ran, and artifacts of its outcome.

- `name_flow_run`: `SO · so_battery v3 · manual` (`optbox.protocol.flow_run_name`), set once the claim says the model
  (the facade names the runs it creates already; a schedule's runs get theirs here).
- `publish_artifacts`: a markdown summary under `optbox-<type>-summary` and a table of the main result's first
  rows under `optbox-<type>-result`, so each key's history in Prefect is that type's results over time.

Contract: these are views; a failure here is logged on the run and never fails it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.client.orchestration import get_client

from optbox import protocol
from optbox.protocol import ClaimedRun, RunOutcome

TABLE_ROWS = 20  # rows of the main result in its table artifact
TABLE_READ_BYTES = 1024 * 1024  # the main result is read this far, no further


def flow_run_name(claimed: ClaimedRun) -> str:
    return protocol.flow_run_name(claimed.model_type.value, claimed.model_name, claimed.model_version, claimed.triggered_by)


async def name_flow_run(flow_run_id: str, current_name: str, claimed: ClaimedRun) -> None:
    """Name the run for what it runs, unless the facade named it so when it created it (a round trip to
    Prefect before the run's first line, for nothing)."""
    if current_name == flow_run_name(claimed):
        return
    async with get_client() as client:
        await client.update_flow_run(flow_run_id=flow_run_id, name=flow_run_name(claimed))


def artifact_key(claimed: ClaimedRun, what: str) -> str:
    """`optbox-so-result`: Prefect keys are lower-case letters, digits and dashes."""
    return f"optbox-{claimed.model_type.value.lower()}-{what}"


def main_result(output_dir: Path) -> tuple[str, list[dict[str, Any]]] | None:
    """The first tabular result (CSV, or JSON records) by name, and its first TABLE_ROWS rows; None without one."""
    for path in sorted(p for p in output_dir.rglob("*") if p.is_file() and not p.is_symlink()):
        with path.open("rb") as file:
            head = file.read(TABLE_READ_BYTES).decode("utf-8", errors="replace")
        try:
            if path.suffix.lower() == ".csv":
                rows = list(_first_rows(csv.DictReader(io.StringIO(head))))
            elif path.suffix.lower() == ".json":
                records = json.loads(head)
                rows = records[:TABLE_ROWS] if isinstance(records, list) and all(isinstance(r, dict) for r in records[:TABLE_ROWS]) else []
            else:
                continue
        except (csv.Error, ValueError):
            continue
        if rows:
            return path.relative_to(output_dir).as_posix(), rows
    return None


def _first_rows(reader: csv.DictReader):
    for index, row in enumerate(reader):
        if index == TABLE_ROWS:
            return
        yield {key: value for key, value in row.items() if key is not None}


def summary_markdown(claimed: ClaimedRun, outcome: RunOutcome, page_url: str, result: str | None) -> str:
    report = outcome.report
    rows = [("Status", outcome.status.value), ("Objective", report.objective_value),
            ("Model", f"{claimed.model_name} v{claimed.model_version}"), ("Model sha256", f"`{claimed.model.sha256}`"),
            ("Attempt", outcome.attempt), ("Peak memory (MB)", _round(outcome.peak_memory_mb)),
            ("CPU time (s)", _round(outcome.cpu_seconds)), ("Main result", result)]
    rows += [(f"Metric {name}", value) for name, value in (report.metrics or {}).items()]
    table = "\n".join(f"| {name} | {'—' if value is None else str(value).replace('|', '/')} |" for name, value in rows)
    error = f"\n\n**Error:** {outcome.error_message.splitlines()[0]}" if outcome.error_message else ""
    return (f"# {flow_run_name(claimed)} — run {claimed.job_id}\n\n| | |\n|---|---|\n{table}{error}\n\n"
            f"[Open the run on the page]({page_url})\n")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def publish_artifacts(claimed: ClaimedRun, outcome: RunOutcome, output_dir: Path, page_url: str) -> None:
    found = main_result(output_dir)
    await acreate_markdown_artifact(summary_markdown(claimed, outcome, page_url, found[0] if found else None),
                                   key=artifact_key(claimed, "summary"), description=f"Run {claimed.job_id}: {outcome.status.value}")
    if found:
        name, rows = found
        await acreate_table_artifact(rows, key=artifact_key(claimed, "result"),
                                    description=f"Run {claimed.job_id}: the first {len(rows)} rows of {name}")
