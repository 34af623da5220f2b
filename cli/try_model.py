"""`optbox try`: run a model on this machine as a worker would run it, without a server.

The same code path as a server run, minus the facade: flows.market's compile check, `ModelLaunch` (sandbox,
limits and the protocol's environment: JOB_ID, MODEL_TYPE, CONFIG, DATA_PATH, OUTPUT_DIR), `execute_model`
(the lines the flow says itself and the exit verdict) and `LineSequencer` (seq, levels, `::optbox` reports);
the config is checked against the model's CONFIG_SCHEMA as the facade checks it. Lines go to `on_line`
instead of the facade; result files are counted by the rule the flow uploads them by, and kept in `out_dir`
when given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.config_schema import declared_schema, validate_config
from api.errors import ApiError
from cli.client import EXIT_USAGE, ClientError
from flows.lines import LineSequencer
from flows.market import ModelInvalid, ModelLaunch, SandboxUnavailable, compile_model, execute_model
from optbox.protocol import MAX_ARTIFACT_BYTES, MAX_RESULT_FILES, ClaimedRun, FileRef, LogLine, ModelType, Report
from optbox.settings import get_settings


@dataclass
class TryOutcome:
    job_id: str
    exit_code: int
    error: str | None
    report: Report
    result_files: list[str]
    last_seq: int

    @property
    def status(self) -> str:
        return "success" if self.error is None else "failed"

    def as_json(self) -> dict[str, Any]:
        return {"jobId": self.job_id, "status": self.status, "exitCode": self.exit_code, "error": self.error,
                "objectiveValue": self.report.objective_value, "resultsCount": self.report.results_count,
                "progress": self.report.progress, "report": self.report.model_dump(exclude_none=True),
                "resultFiles": self.result_files, "lines": self.last_seq}


class _NoBacklog:
    """What execute_model reads of its shipper: nothing waits for a facade here."""

    backlog = 0


def _file_ref(path: Path, data: bytes) -> FileRef:
    return FileRef(id=1, filename=path.name, sha256=hashlib.sha256(data).hexdigest(), size=len(data), download_path="")


def checked_model(model: Path, config: dict[str, Any]) -> bytes:
    """The model's bytes, refused as the server refuses them: not compiling, or a config its schema rejects."""
    try:
        source = model.read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read {model}: {exc.strerror}", EXIT_USAGE) from exc
    try:
        compile_model(source, model.name)
        validate_config(config, declared_schema(source.decode("utf-8", errors="replace")), model.name)
    except ModelInvalid as exc:
        raise ClientError(str(exc), EXIT_USAGE) from exc
    except ApiError as exc:
        raise ClientError(exc.error, EXIT_USAGE) from exc
    return source


def result_files(output_dir: Path) -> list[Path]:
    """The files a server run would keep as results (flows.market.collect_results' rule)."""
    found = sorted(Path(root, name) for root, _, names in os.walk(output_dir) for name in names)
    kept = [path for path in found if not path.is_symlink() and path.is_file() and path.stat().st_size <= MAX_ARTIFACT_BYTES]
    return kept[:MAX_RESULT_FILES]


async def try_model(model: Path, model_type: ModelType, config: dict[str, Any], data: Path | None, out_dir: Path | None,
                    on_line: Callable[[LogLine], None]) -> TryOutcome:
    source = checked_model(model, config)
    settings = get_settings()
    job_id = f"try-{model_type.value.lower()}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    scratch = Path(tempfile.mkdtemp(prefix=f"{job_id}-"))
    try:
        model_path = scratch / model.name
        model_path.write_bytes(source)
        data_path = None
        if data is not None:
            data_path = scratch / "input" / data.name
            data_path.parent.mkdir()
            shutil.copyfile(data, data_path)
        (scratch / "output").mkdir()
        claimed = ClaimedRun(job_id=job_id, model_type=model_type, model_name=model.stem, model_version=0,
                             model=_file_ref(model, source), dataset=_file_ref(data_path, data_path.read_bytes()) if data_path else None,
                             config=config, next_seq=1, limits=settings.run_limits())
        with open(os.devnull, "w", encoding="utf-8") as log_file:
            lines = LineSequencer(first_seq=1, log_file=log_file, prefect_log=None, ship=on_line,
                                  max_log_bytes=int(claimed.limits.max_log_mb * 1024 * 1024))
            try:
                launch = ModelLaunch(claimed, scratch, model_path, data_path, attempt=1)
            except SandboxUnavailable as exc:
                raise ClientError(str(exc), EXIT_USAGE) from exc
            try:
                exit_code, error = await execute_model.fn(lines, launch, _NoBacklog())
            finally:
                launch.close()
        kept = result_files(scratch / "output")
        names = [path.relative_to(scratch / "output").as_posix() for path in kept]
        if out_dir is not None:
            for path, name in zip(kept, names, strict=True):
                (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, out_dir / name)
        return TryOutcome(job_id, exit_code, error, lines.report, names, lines.last_seq)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

