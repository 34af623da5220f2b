"""Locks and environments against real uv and a local index of wheels built here."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from optbox import environments
from optbox.model_files import Requirements
from optbox.settings import get_settings
from tests.deps import wheelhouse


@pytest.fixture
def local_index(tmp_path, monkeypatch) -> Path:
    """Settings that resolve and install from a local wheelhouse only, into a fresh cache of environments."""
    monkeypatch.setenv("OPTBOX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPTBOX_PACKAGE_INDEX_URL", "")
    monkeypatch.setenv("OPTBOX_PACKAGE_FIND_LINKS", str(wheelhouse.fill(tmp_path / "wheels")))
    get_settings.cache_clear()
    yield tmp_path / "data" / "envs"
    get_settings.cache_clear()


def version_in(env: Path) -> str:
    done = subprocess.run([env / "bin" / "python", "-c", "import optbox_probe_pkg as p; print(p.__version__)"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_lock_pins_every_package_with_hashes(local_index):
    lock = environments.resolve(Requirements([f"{wheelhouse.PROBE}<2"]))
    assert environments.pinned(lock) == {wheelhouse.PROBE: "1.0"}
    assert "--hash=sha256:" in lock


def test_no_declared_dependencies_is_the_base_environment(local_index):
    assert environments.resolve(Requirements([])) == ""


@pytest.mark.parametrize("wanted, says", [
    (["optbox-no-such-package"], "was not found"),
    ([f"{wheelhouse.PROBE}>=3"], "only optbox-probe-pkg<=2.0 is available"),
    ([f"{wheelhouse.PROBE}==1.0", f"{wheelhouse.PROBE}==2.0"], "unsatisfiable"),
])
def test_refuses_what_cannot_be_resolved_with_uvs_message(local_index, wanted, says):
    with pytest.raises(environments.ResolutionError, match=says):
        environments.resolve(Requirements(wanted))


def test_refuses_a_package_with_only_an_sdist_and_says_why(local_index):
    with pytest.raises(environments.ResolutionError) as refused:
        environments.resolve(Requirements([wheelhouse.SDIST_ONLY]))
    assert "no usable wheels" in str(refused.value)
    assert "OPTBOX_DEPS_ALLOW_SDIST" in str(refused.value)


def test_refuses_a_model_for_another_python(local_index):
    with pytest.raises(environments.ResolutionError, match="requires Python <3"):
        environments.resolve(Requirements([wheelhouse.PROBE], requires_python="<3"))


def test_two_locks_give_two_environments_side_by_side(local_index):
    old, new = (environments.resolve(Requirements([f"{wheelhouse.PROBE}=={v}"])) for v in ("1.0", "2.0"))
    assert environments.lock_diff(old, new) == {wheelhouse.PROBE: {"from": "1.0", "to": "2.0"}}
    with environments.environment(old) as first, environments.environment(new) as second:
        assert (version_in(first), version_in(second)) == ("1.0", "2.0")
        assert list(first.rglob("__pycache__/*.pyc")), "bytecode is compiled at build"


def _enter(lock: str, data_dir: str, links: str, results) -> None:
    os.environ.update(OPTBOX_DATA_DIR=data_dir, OPTBOX_PACKAGE_INDEX_URL="", OPTBOX_PACKAGE_FIND_LINKS=links)
    get_settings.cache_clear()
    said: list[str] = []
    with environments.environment(lock, said.append) as env:
        results.put((str(env), any(line.startswith("preparing environment") for line in said)))


def test_simultaneous_first_runs_build_the_environment_once(local_index, tmp_path):
    lock = environments.resolve(Requirements([wheelhouse.PROBE]))
    results = multiprocessing.get_context("spawn").Queue()
    runs = [multiprocessing.get_context("spawn").Process(target=_enter, args=(lock, str(tmp_path / "data"), str(tmp_path / "wheels"), results))
            for _ in range(4)]
    for run in runs:
        run.start()
    outcomes = [results.get(timeout=120) for _ in runs]
    for run in runs:
        run.join()
    assert {env for env, _ in outcomes} == {str(local_index / environments.lock_sha256(lock))}
    assert sum(built for _, built in outcomes) == 1
    assert sorted(path.name for path in local_index.iterdir()) == [".locks", environments.lock_sha256(lock)]


def test_a_failed_build_leaves_nothing_behind(local_index, tmp_path):
    lock = environments.resolve(Requirements([wheelhouse.PROBE]))
    lock = lock.replace(lock.split("--hash=sha256:")[1][:64], "0" * 64)  # no wheel has this hash
    with pytest.raises(environments.EnvironmentBuildError):
        with environments.environment(lock):
            pass
    assert [path.name for path in local_index.iterdir()] == [".locks"]


def test_prune_removes_the_least_recently_used_but_never_one_in_use(local_index):
    old, new = (environments.resolve(Requirements([f"{wheelhouse.PROBE}=={v}"])) for v in ("1.0", "2.0"))
    with environments.environment(old):
        pass
    with environments.environment(new):
        assert environments.prune(max_bytes=0) == [environments.lock_sha256(old)]
    assert environments.prune(max_bytes=0) == [environments.lock_sha256(new)]


@pytest.mark.parametrize("host, expected", [
    (("linux", "x86_64", "glibc", "2.36"), "x86_64-manylinux_2_36"),
    (("linux", "x86_64", "glibc", "2.41"), "x86_64-manylinux_2_40"),  # newer than uv names: its highest
    (("linux", "aarch64", "glibc", "2.30"), "aarch64-manylinux_2_28"),
    (("linux", "x86_64", "", ""), "x86_64-unknown-linux-gnu"),
    (("darwin", "arm64", "", ""), "macos"),
])
def test_locks_are_made_for_the_hosts_manylinux_level_that_uv_knows(host, expected):
    assert environments.platform_for(*host) == expected
