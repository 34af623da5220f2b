"""The host's sandbox mechanisms, used directly: run groups, the launcher, bubblewrap."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from optbox import sandbox

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


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap unavailable")
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
