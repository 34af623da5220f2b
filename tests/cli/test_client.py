"""`optbox` as a client, run as a real subprocess (`python -m cli …`) against the session's real stack:
what a model author and a script see, and the exit codes they branch on."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cli.client_app import LinePrinter, safe_parts
from harness.stack import ADMIN_TOKEN, PROJECT_DIR, wait_until
from tests.conftest import SAMPLES, wait_for_job

MODELS = PROJECT_DIR / "tests" / "models"
SAMPLE_RUNS = [("DMO", "dmo_day_ahead.py", "dmo_prices.csv"), ("RMO", "rmo_redispatch.py", "rmo_realtime.csv"),
               ("SO", "so_battery.py", "so_prices.csv")]
EXIT_INTERRUPTED = 130
NOBODY = "http://127.0.0.1:9"  # the discard port: nothing listens


@pytest.fixture(scope="module")
def config_home(tmp_path_factory) -> Path:
    """A user config dir of its own: what `optbox login` stored on this machine never counts."""
    return tmp_path_factory.mktemp("config")


def client_env(stack, config_home: Path, **overrides: str | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPTBOX_")}
    env.update(OPTBOX_URL=stack.api_url, OPTBOX_TOKEN=ADMIN_TOKEN, XDG_CONFIG_HOME=str(config_home))
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def optbox(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout)


class Running:
    """`optbox …` in the background, its stdout and stderr read line by line as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=PROJECT_DIR, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                        for stream, into in ((self.process.stdout, self.out), (self.process.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def finish(self, timeout: float = 240) -> int:
        code = self.process.wait(timeout)
        for reader in self.readers:
            reader.join(10)
        return code

    def job_id(self) -> str:
        """The job the command started: its first stderr line names it."""
        announced = wait_until(lambda: [line for line in self.err if line.startswith("job ")], 120, "the run to be announced")
        return announced[0].split()[1].rstrip(":")


def upload_with_cli(env, path: Path, model_type: str) -> dict:
    done = optbox(env, "models", "upload", str(path), "--type", model_type, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["model"]


def printed_model_lines(stdout: list[str]) -> list[str]:
    return [line for line in stdout if line.startswith("line ")]


def test_run_follow_prints_every_line_of_a_5000_line_model_once_in_order_and_exits_0(stack, config_home, keep_active_models):
    env = client_env(stack, config_home)
    model = upload_with_cli(env, MODELS / "printer.py", "DMO")
    done = optbox(env, "run", "DMO", "--model", str(model["id"]), "--config", '{"lines": 5000}', "--follow")
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout.splitlines()
    assert printed_model_lines(out) == [f"line {i} of 5000" for i in range(1, 5001)]
    assert out[-1].startswith("::optbox ")  # the model's stdout is stdout, the report line included, nothing else
    assert "success: objective 5000" in done.stderr


def test_a_failing_run_exits_1_with_its_error_and_its_stderr_on_stderr(stack, config_home, keep_active_models):
    env = client_env(stack, config_home)
    model = upload_with_cli(env, SAMPLES / "raises.py", "SO")
    done = optbox(env, "run", "SO", "--model", str(model["id"]), "--follow", "--json")
    assert done.returncode == 1
    final = json.loads(done.stdout)  # --json: stdout is one document, the lines went to stderr
    assert final["status"] == "failed" and "infeasible: demand exceeds capacity" in final["error_message"]
    assert "WARNING: price series has a gap in block 41; interpolating" in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("infeasible: demand exceeds capacity in block 57")


@pytest.mark.restarts_shared
def test_a_facade_restarted_mid_run_still_prints_every_line_once(stack, config_home, keep_active_models):
    env = client_env(stack, config_home)
    model = upload_with_cli(env, MODELS / "printer.py", "DMO")
    following = Running(env, "run", "DMO", "--model", str(model["id"]), "--config", '{"lines": 800, "delay": 0.01}', "--follow")
    wait_until(lambda: len(following.out) > 50, 120, "lines to be printed")
    stack.stop_role("api", signal.SIGKILL)
    time.sleep(3)
    stack.start_api()
    assert following.finish() == 0, "\n".join(following.err[-30:])
    assert printed_model_lines(following.out) == [f"line {i} of 800" for i in range(1, 801)]


def test_ctrl_c_cancels_the_run_on_the_server_and_exits_130(stack, api, config_home, keep_active_models):
    env = client_env(stack, config_home)
    model = upload_with_cli(env, MODELS / "endless.py", "SO")
    following = Running(env, "run", "SO", "--model", str(model["id"]), "--follow")
    wait_until(lambda: any(line.startswith("tick 3") for line in following.out), 120, "the model to tick")
    following.process.send_signal(signal.SIGINT)
    assert following.finish(60) == EXIT_INTERRUPTED, "\n".join(following.err[-40:])
    assert wait_for_job(api, following.job_id(), timeout=60)["status"] == "cancelled"


def sample_model_id(api, model_type: str, filename: str) -> int:
    return min(m["id"] for m in api.get("/api/optimization/models", params={"type": model_type}).json()["models"]
               if m["original_filename"] == filename)


def test_json_output_parses_for_every_read_command(stack, api, config_home):
    env = client_env(stack, config_home)
    started = json.loads(optbox(env, "run", "SO", "--model", str(sample_model_id(api, "SO", "so_battery.py")), "--json").stdout)
    job_id = started["jobId"]
    assert optbox(env, "logs", job_id, "--follow").returncode == 0
    jobs = json.loads(optbox(env, "jobs", "--type", "so", "--limit", "5", "--json").stdout)
    assert job_id in [j["job_id"] for j in jobs]
    assert all(j["model_type"] == "SO" for j in jobs)
    assert {m["model_type"] for m in json.loads(optbox(env, "models", "list", "--type", "SO", "--json").stdout)} == {"SO"}
    lines = json.loads(optbox(env, "logs", job_id, "--json").stdout)
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert [r["name"] for r in json.loads(optbox(env, "results", job_id, "--json").stdout)] == ["so_schedule.csv"]


def test_without_a_key_says_to_set_optbox_token_and_exits_2(stack, config_home):
    done = optbox(client_env(stack, config_home, OPTBOX_TOKEN=None), "jobs")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "OPTBOX_TOKEN" in done.stderr


def test_an_unreachable_server_is_one_line_and_exit_2(stack, config_home):
    done = optbox(client_env(stack, config_home, OPTBOX_URL=NOBODY), "models", "list")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot reach optbox" in done.stderr


def test_a_refused_upload_prints_the_servers_message_and_exits_1(stack, config_home):
    done = optbox(client_env(stack, config_home), "models", "upload", str(SAMPLES / "broken_syntax.py"), "--type", "SO")
    assert done.returncode == 1
    assert "syntax error on line 4" in done.stderr


def test_a_malformed_config_exits_2_before_any_request(stack, config_home):
    # an unreachable server: had the command sent anything, it would have said so instead
    env = client_env(stack, config_home, OPTBOX_URL=NOBODY)
    for config in ('{"lines": ', "[1, 2]", "@/nonexistent/config.json"):
        done = optbox(env, "run", "SO", "--config", config, "--follow")
        assert done.returncode == 2 and "--config" in done.stderr and "cannot reach" not in done.stderr


def test_login_checks_the_key_and_stores_it_for_this_user_only(stack, tmp_path):
    env = client_env(stack, tmp_path, OPTBOX_TOKEN=None)
    assert optbox(env, "login", "--url", stack.api_url, "--token", "not-a-key").returncode == 2
    assert optbox(env, "login", "--url", stack.api_url, "--token", ADMIN_TOKEN).returncode == 0
    stored = tmp_path / "optbox" / "credentials.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    without_url_or_key = {name: value for name, value in env.items() if name != "OPTBOX_URL"}
    assert optbox(without_url_or_key, "jobs", "--json").returncode == 0  # both from what login stored


@pytest.mark.parametrize(("model_type", "model_file", "data_file"), SAMPLE_RUNS)
def test_try_records_what_a_server_run_of_the_sample_records(stack, api, config_home, tmp_path, model_type, model_file, data_file):
    env = client_env(stack, config_home)
    model_id = sample_model_id(api, model_type, model_file)
    dataset_id = min(d["id"] for d in api.get("/api/optimization/datasources", params={"type": model_type}).json()["dataSources"]
                     if d["name"] == data_file)
    served = optbox(env, "run", model_type, "--model", str(model_id), "--data-source", str(dataset_id), "--follow", "--json")
    assert served.returncode == 0, served.stderr[-2000:]
    server_job = json.loads(served.stdout)
    tried = optbox(env, "try", str(SAMPLES / model_file), "--type", model_type, "--data", str(SAMPLES / "data" / data_file),
                   "--out", str(tmp_path / "tried"), "--json")
    assert tried.returncode == 0, tried.stderr[-2000:]
    local = json.loads(tried.stdout)
    assert (local["objectiveValue"], local["resultsCount"]) == (server_job["objective_value"], server_job["results_count"])
    downloaded = json.loads(optbox(env, "results", server_job["job_id"], "--out", str(tmp_path / "served"), "--json").stdout)
    assert sorted(r["name"] for r in downloaded) == sorted(local["resultFiles"])
    for name in local["resultFiles"]:
        assert (tmp_path / "tried" / name).is_file() and (tmp_path / "served" / name).is_file()


def test_following_an_unknown_job_names_it_and_exits_1(stack, config_home):
    done = optbox(client_env(stack, config_home), "logs", "so-20000101-000000-nothere", "--follow")
    assert done.returncode == 1 and "so-20000101-000000-nothere" in done.stderr


def test_the_models_plain_stdout_goes_to_stdout_and_every_other_line_to_stderr(capsys):
    printer = LinePrinter(show_seq=True)
    for seq, level, stream in [(1, "INFO", "system"), (2, "INFO", "stdout"), (3, "WARNING", "stdout"), (4, "ERROR", "stderr"),
                               (5, "DEBUG", "stdout")]:
        printer({"seq": seq, "level": level, "stream": stream, "message": f"m{seq}"})
    out, err = capsys.readouterr()
    assert out.split() == ["2", "m2", "5", "m5"] and err.split() == ["1", "m1", "3", "m3", "4", "m4"]


def test_result_names_never_lead_outside_the_download_directory():
    assert safe_parts("schedule.csv") == ["schedule.csv"]
    assert safe_parts("by_day/2026-12-03.csv") == ["by_day", "2026-12-03.csv"]
    assert safe_parts("../../etc/passwd") == ["etc", "passwd"]
    assert safe_parts("/abs/x") == ["abs", "x"]


def test_an_upload_says_which_environment_the_version_runs_in(stack, config_home, keep_active_models):
    env = client_env(stack, config_home)
    base = optbox(env, "models", "upload", str(MODELS / "printer.py"), "--type", "RMO")
    assert base.returncode == 0, base.stderr
    assert "environment: the base environment" in base.stderr
    own = optbox(env, "models", "upload", str(SAMPLES / "so_battery_pulp.py"), "--type", "SO")
    assert own.returncode == 0, own.stderr
    lock = re.search(r"environment: its own packages, lock ([0-9a-f]{12})", own.stderr)
    assert lock, own.stderr
    active = httpx.get(f"{stack.api_url}/api/optimization/models", params={"type": "SO", "status": "active"},
                       headers={"Authorization": f"Bearer {env['OPTBOX_TOKEN']}"}).json()["models"][0]
    assert active["lock_sha256"].startswith(lock.group(1))
