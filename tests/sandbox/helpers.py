"""Shared by the sandbox tests: run a hostile model, find what a run left running."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import all_lines, execute, upload, wait_for_job

HOSTILE = Path(__file__).parent.parent / "models" / "hostile"
SMALL = {"timeoutS": 20, "memoryMb": 200, "maxProcs": 64, "maxLogMb": 4}
# what the model-author protocol hands a model, plus what Python and the shell add on their own
DOCUMENTED_ENV = {"JOB_ID", "MODEL_TYPE", "CONFIG", "DATA_PATH", "OUTPUT_DIR", "HOME", "PATH", "LANG", "LC_ALL", "TZ",
                  "PYTHONUNBUFFERED", "PYTHONIOENCODING", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LC_CTYPE", "PWD"}


def run_hostile(api: httpx.Client, name: str, model_type: str = "SO", *, limits: dict | None = None,
                config: dict | None = None, wait: bool = True) -> dict:
    """Upload tests/models/hostile/<name>.py as a new version and run it with small limits."""
    response = upload(api, f"{name}.py", (HOSTILE / f"{name}.py").read_bytes(), model_type, description="hostile")
    assert response.status_code == 201, response.text
    started = execute(api, model_type, modelId=response.json()["model"]["id"], config=config or {}, limits={**SMALL, **(limits or {})})
    return wait_for_job(api, started["jobId"], timeout=120) if wait else started


def messages(api: httpx.Client, job_id: str, stream: str | None = None) -> list[str]:
    return [line["message"] for line in all_lines(api, job_id) if stream is None or line["stream"] == stream]


