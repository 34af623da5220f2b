"""Models with their own Python packages, end to end on the session stack: upload, lock, environment, run."""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from optbox.model_files import MAX_MEMBERS
from tests.conftest import SAMPLES, all_lines, execute, job, upload, wait_for_job
from tests.deps import wheelhouse
from tests.sandbox.helpers import DOCUMENTED_ENV, HOSTILE, SMALL

SO_OBJECTIVE = 262142.12  # samples/so_battery.py (scipy) on samples/data/so_prices.csv
DMO_OBJECTIVE = 12307531.5  # samples/dmo_day_ahead.py on samples/data/dmo_prices.csv
PROBE_MODEL = '''# /// script
# dependencies = ["optbox-probe-pkg=={version}"]
# ///
import json
import optbox_probe_pkg
print("::optbox " + json.dumps({{"metrics": {{"probe": optbox_probe_pkg.__version__}}}}))
'''


def zipped_folder(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((SAMPLES / name).iterdir()):
            archive.write(path, f"{name}/{path.name}")
    return buffer.getvalue()


def upload_and_run(api, filename: str, content: bytes, model_type: str, **body) -> tuple[dict, dict]:
    response = upload(api, filename, content, model_type)
    assert response.status_code == 201, response.text
    model = response.json()["model"]
    started = execute(api, model_type, modelId=model["id"], **body)
    return model, wait_for_job(api, started["jobId"], timeout=240)


@pytest.mark.parametrize("filename, model_type, objective", [
    ("so_battery_pulp.py", "SO", SO_OBJECTIVE),
    ("so_battery_pyomo.py", "SO", SO_OBJECTIVE),
    ("so_battery_linopy.py", "SO", SO_OBJECTIVE),
    ("dmo_multifile.zip", "DMO", DMO_OBJECTIVE),
])
def test_each_dependency_sample_runs_in_its_locked_environment_with_the_expected_objective(api, keep_active_models, filename, model_type, objective):
    content = zipped_folder("dmo_multifile") if filename.endswith(".zip") else (SAMPLES / filename).read_bytes()
    model, row = upload_and_run(api, filename, content, model_type)
    assert model["lock_sha256"] and (model["entry"] == "main.py") == filename.endswith(".zip")
    assert row["status"] == "success", row["error_message"]
    assert row["objective_value"] == pytest.approx(objective, abs=0.01)
    assert row["lock_sha256"] == model["lock_sha256"]  # the run's provenance names its lock
    lock = api.get(f"/api/optimization/models/{model['id']}/lock").json()
    assert lock["lock_sha256"] == model["lock_sha256"] and "--hash=sha256:" in lock["lock"]
    assert ("pulp" in lock["packages"]) == ("pulp" in filename or filename.endswith(".zip"))
    system = [line["message"] for line in all_lines(api, row["job_id"]) if line["stream"] == "system"]
    assert any(message.startswith(f"environment {model['lock_sha256'][:12]}") for message in system)


def test_two_versions_with_different_pins_run_side_by_side_each_with_its_own(api, keep_active_models):
    models = [upload(api, "probe_pins.py", PROBE_MODEL.format(version=version).encode(), "RMO").json()["model"] for version in ("1.0", "2.0")]
    diff = api.get(f"/api/optimization/models/{models[1]['id']}/lock", params={"against": models[0]["id"]}).json()
    assert diff["changes"] == {wheelhouse.PROBE: {"from": "1.0", "to": "2.0"}}
    started = [execute(api, "RMO", modelId=model["id"]) for model in models]
    with ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(lambda run: wait_for_job(api, run["jobId"], timeout=180), started))
    assert [row["status"] for row in rows] == ["success", "success"], [row["error_message"] for row in rows]
    assert [row["metrics"]["probe"] for row in rows] == ["1.0", "2.0"]


def _bad_archives() -> dict[str, bytes]:
    def zipped(members: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                if name.startswith("link:"):
                    info = zipfile.ZipInfo(name[5:])
                    info.external_attr = 0o120777 << 16
                    archive.writestr(info, data)
                else:
                    archive.writestr(name, data)
        return buffer.getvalue()
    return {
        "escape": zipped({"main.py": b"", "../../escape.py": b"x"}),
        "link": zipped({"main.py": b"", "link:passwd": b"/etc/passwd"}),
        "members": zipped({f"m{i}.txt": b"" for i in range(MAX_MEMBERS + 1)} | {"main.py": b""}),
        "unpacked": zipped({"main.py": b"", "zeros.bin": bytes(51 * 1024 * 1024)}),
    }


def script(dependencies: str) -> bytes:
    return f"# /// script\n# dependencies = [{dependencies}]\n# ///\nprint('never')\n".encode()


@pytest.mark.parametrize("case, filename, status, says", [
    ("escape", "bad.zip", 400, "outside the archive"),
    ("link", "bad.zip", 400, "is a link"),
    ("members", "bad.zip", 413, "at most 1000"),
    ("unpacked", "bad.zip", 413, "more than 50 MB"),
    ("unknown", "bad.py", 422, "not found"),
    ("unresolvable", "bad.py", 422, "only optbox-probe-pkg<=2.0 is available"),
    ("sdist", "bad.py", 422, "OPTBOX_DEPS_ALLOW_SDIST"),
])
def test_refuses_bad_uploads_with_a_clear_4xx_and_stores_nothing(api, case, filename, status, says):
    content = {"unknown": script('"optbox-no-such-package-anywhere"'), "unresolvable": script(f'"{wheelhouse.PROBE}>=3"'),
               "sdist": script(f'"{wheelhouse.SDIST_ONLY}"')}.get(case) or _bad_archives()[case]
    before = api.get("/api/optimization/models").json()["models"]
    refused = upload(api, filename, content, "SO")
    assert refused.status_code == status, refused.text
    assert says in refused.json()["error"]
    after = api.get("/api/optimization/models").json()["models"]
    assert [m["id"] for m in after] == [m["id"] for m in before] and not any(m["model_name"] == "bad" for m in after)


HOSTILE_HEADER = f'# /// script\n# dependencies = ["{wheelhouse.PROBE}"]\n# ///\n'
ENV_WRITER = HOSTILE_HEADER + '''import json, os, sys
import optbox_probe_pkg
tried = {}
for label, path in {"environment": os.path.join(sys.prefix, "planted.txt"), "package": optbox_probe_pkg.__file__ + ".x",
                    "tmp": "/tmp/scratch.txt", "usr": "/usr/planted.txt"}.items():
    try:
        with open(path, "w") as handle:
            handle.write("x")
        tried[label] = "written"
    except OSError as exc:
        tried[label] = exc.__class__.__name__
print("::optbox " + json.dumps({"metrics": {"tried": tried, "prefix": sys.prefix}}))
'''


def test_the_sandbox_holds_for_a_model_in_its_own_environment(api, stack, keep_active_models):
    if not api.get("/api/health").json()["sandbox"]["bubblewrap"]:
        pytest.fail("this host lacks bubblewrap, which the suite relies on")
    _, row = upload_and_run(api, "env_writer.py", ENV_WRITER.encode(), "SO", limits=SMALL)
    assert row["status"] == "success", row["error_message"]
    tried = row["metrics"]["tried"]
    assert tried["tmp"] == "written"  # a private writable /tmp (CBC and linopy write there)
    assert {tried[where] for where in ("environment", "package", "usr")} <= {"OSError", "PermissionError"}, tried
    assert row["metrics"]["prefix"].startswith(str(stack.data_dir / "envs"))
    network = (HOSTILE_HEADER + (HOSTILE / "network_probe.py").read_text()).encode()
    _, row = upload_and_run(api, "network_probe.py", network, "SO", config={"ports": [stack.api_port]}, limits=SMALL)
    assert row["status"] == "success" and row["metrics"]["reached"] == []
    snoop = (HOSTILE_HEADER + (HOSTILE / "snoop.py").read_text()).encode()
    paths = {"data_dir": str(stack.data_dir), "database": str(stack.data_dir / "optbox.db"), "runs": str(stack.data_dir / "runs"),
             "shadow": "/etc/shadow", "proc_environ_1": "/proc/1/environ"}
    _, row = upload_and_run(api, "snoop.py", snoop, "SO", config={"paths": paths}, limits=SMALL)
    assert row["status"] == "success", row["error_message"]
    assert set(row["metrics"]["env"]) <= DOCUMENTED_ENV and row["metrics"]["uid"] == 65534
    assert all(row["metrics"]["seen"][label] is None for label in ("database", "runs", "shadow"))
    assert row["metrics"]["seen"]["data_dir"] in (None, ["envs"])  # only its environment is mounted of the data dir
    assert job(api, row["job_id"])["lock_sha256"]
    hog = (HOSTILE_HEADER + (HOSTILE / "memory_hog.py").read_text()).encode()
    _, row = upload_and_run(api, "memory_hog.py", hog, "SO", limits={**SMALL, "memoryMb": 100})
    assert row["status"] == "failed" and "memory limit of 100 MB" in row["error_message"]


def test_a_build_failure_on_the_worker_fails_the_run_with_uvs_reason_and_leaves_nothing(api, stack, keep_active_models):
    wheels = Path(stack.extra_env["OPTBOX_PACKAGE_FIND_LINKS"])
    wheel = wheelhouse.build_wheel(wheels, "optbox-vanishing-pkg", "1.0")
    source = b'# /// script\n# dependencies = ["optbox-vanishing-pkg"]\n# ///\nimport optbox_vanishing_pkg\n'
    model = upload(api, "vanishing.py", source, "RMO").json()["model"]
    wheel.unlink()  # locked at upload, gone from the index before the worker builds
    row = wait_for_job(api, execute(api, "RMO", modelId=model["id"])["jobId"], timeout=180)
    assert row["status"] == "failed" and "could not build the model's environment" in row["error_message"]
    envs = stack.data_dir / "envs"
    assert not (envs / model["lock_sha256"]).exists()
    assert not [path.name for path in envs.iterdir() if path.name.startswith(".building")]


def test_real_pulp_pins_run_side_by_side_from_pypi(api, keep_active_models):
    source = (SAMPLES / "so_battery_pulp.py").read_text()
    models = [upload(api, "so_battery_pulp_pinned.py", source.replace('"pulp>=2.8"', f'"pulp=={pin}"').encode(), "SO").json()["model"]
              for pin in ("2.8.*", "2.9.*")]
    changes = api.get(f"/api/optimization/models/{models[1]['id']}/lock", params={"against": models[0]["id"]}).json()["changes"]
    assert changes["pulp"]["from"].startswith("2.8.") and changes["pulp"]["to"].startswith("2.9.")
    started = [execute(api, "SO", modelId=model["id"]) for model in models]
    with ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(lambda run: wait_for_job(api, run["jobId"], timeout=240), started))
    assert [row["status"] for row in rows] == ["success", "success"], [row["error_message"] for row in rows]
    assert [row["metrics"]["pulp"][:3] for row in rows] == ["2.8", "2.9"]
    assert {row["objective_value"] for row in rows} == {SO_OBJECTIVE}


def test_an_archive_names_its_entry_in_the_upload_and_without_declarations_runs_in_the_base_environment(api, keep_active_models):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("run.py", "import json, numpy\nfrom helper import VALUE\nprint('::optbox ' + json.dumps({'objective_value': VALUE}))\n")
        archive.writestr("helper.py", "VALUE = 7.5\n")
    response = api.post("/api/optimization/upload", files={"file": ("entry_named.zip", buffer.getvalue(), "application/zip")},
                        data={"modelType": "RMO", "entry": "run.py"})
    assert response.status_code == 201, response.text
    model = response.json()["model"]
    assert model["entry"] == "run.py" and model["lock_sha256"] is None
    row = wait_for_job(api, execute(api, "RMO", modelId=model["id"])["jobId"])
    assert row["status"] == "success" and row["objective_value"] == 7.5 and row["lock_sha256"] is None
    assert api.get(f"/api/optimization/models/{model['id']}/lock").json() == {
        "success": True, "model_id": model["id"], "lock_sha256": None, "lock": "", "packages": {}, "against": None, "changes": None}
