"""(h) Models' own environments: a first run from an empty cache, a repeat run's cost over the base
environment, and a run's cost inside the sandbox over the same run outside it.

Measured on optbox.environments and optbox.sandbox directly (the same calls a worker makes), in a data
directory and uv cache of its own, so nothing of a running system is touched and "cold" is really cold.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from optbox import environments, model_files, sandbox
from optbox.settings import PROJECT_DIR

SAMPLES = PROJECT_DIR / "samples"
PRICES = SAMPLES / "data" / "so_prices.csv"
COLD = {"so_battery_pulp.py": 2.0, "so_battery_pyomo.py": 10.0, "so_battery_linopy.py": 10.0}  # target seconds
# the scipy sample with its own environment holding what it imports: the same model, base vs own environment
SCIPY_OWN = '# /// script\n# dependencies = ["numpy", "scipy"]\n# ///\n'


def _run(argv: list[str], job: Path, env: dict[str, str] | None = None) -> float:
    (job / "output").mkdir(exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=job, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[-1]} failed: {done.stderr[-500:]}")
    return took


def _job(root: Path, name: str, source: bytes) -> Path:
    job = Path(tempfile.mkdtemp(dir=root))
    (job / name).write_bytes(source)
    shutil.copy(PRICES, job / "input.csv")
    return job


def _outside(job: Path, python: str, name: str) -> tuple[list[str], dict[str, str]]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(job), "CONFIG": "{}", "DATA_PATH": str(job / "input.csv"),
           "OUTPUT_DIR": str(job / "output")}
    return [python, "-u", name], env


def _inside(job: Path, python: str, name: str, env_dir: Path | None) -> list[str]:
    env = {"HOME": sandbox.JOB_DIR, "CONFIG": "{}", "DATA_PATH": f"{sandbox.JOB_DIR}/input.csv", "OUTPUT_DIR": f"{sandbox.JOB_DIR}/output",
           "PATH": "/usr/bin:/bin"}
    return sandbox.bwrap_command([python, "-u", name], job_dir=job, read_only=[name, "input.csv"], env=env, network=False,
                                 host_read_only=(env_dir,) if env_dir else ())


def measure(quick: bool) -> dict:
    repeats = 3 if quick else 7
    results: dict = {"cold_s": {}, "repeats": repeats}
    with tempfile.TemporaryDirectory(prefix="optbox-bench-envs-") as work:
        root = Path(work)
        saved = os.environ.get("UV_CACHE_DIR")
        os.environ["UV_CACHE_DIR"] = str(root / "uv-cache")  # empty: resolve, download, build, bytecode, run
        try:
            for name in COLD:
                source = (SAMPLES / name).read_bytes()
                job = _job(root, name, source)
                started = time.perf_counter()
                lock = environments.resolve(model_files.read_model(name, source).requirements)
                with environments.environment(lock, root=root / "envs") as env_dir:
                    argv, env = _outside(job, str(env_dir / "bin" / "python"), name)
                    _run(argv, job, env)
                results["cold_s"][name] = round(time.perf_counter() - started, 2)
        finally:
            if saved is None:
                os.environ.pop("UV_CACHE_DIR", None)
            else:
                os.environ["UV_CACHE_DIR"] = saved
        scipy_model = (SAMPLES / "so_battery.py").read_bytes()
        lock = environments.resolve(model_files.read_model("m.py", SCIPY_OWN.encode() + scipy_model).requirements)
        job = _job(root, "so_battery.py", scipy_model)
        with environments.environment(lock, root=root / "envs"):
            pass  # built: what follows is the repeat run
        base, own = [], []
        for _ in range(repeats):
            argv, env = _outside(job, sys.executable, "so_battery.py")
            base.append(_run(argv, job, env))
            started = time.perf_counter()
            with environments.environment(lock, root=root / "envs") as env_dir:
                argv, env = _outside(job, str(env_dir / "bin" / "python"), "so_battery.py")
                _run(argv, job, env)
            own.append(time.perf_counter() - started)
        results["repeat_base_ms"] = round(statistics.median(base) * 1000, 1)
        results["repeat_own_ms"] = round(statistics.median(own) * 1000, 1)
        if sandbox.bwrap_works():
            pulp = (SAMPLES / "so_battery_pulp.py").read_bytes()
            lock = environments.resolve(model_files.read_model("so_battery_pulp.py", pulp).requirements)
            job = _job(root, "so_battery_pulp.py", pulp)
            with environments.environment(lock, root=root / "envs") as env_dir:
                python = str(env_dir / "bin" / "python")
                outside, inside = [], []
                for _ in range(repeats):
                    argv, env = _outside(job, python, "so_battery_pulp.py")
                    outside.append(_run(argv, job, env))
                    inside.append(_run(_inside(job, python, "so_battery_pulp.py", env_dir), job, {"PATH": os.environ.get("PATH", "")}))
            results["sandbox_outside_ms"] = round(statistics.median(outside) * 1000, 1)
            results["sandbox_inside_ms"] = round(statistics.median(inside) * 1000, 1)
    return results
