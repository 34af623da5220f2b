"""Keeps a model's process tree together where neither a PID namespace nor a cgroup does.

Started by the flow as `python -I reaper.py -- <launcher argv>` (see `sandbox.reaped`) on hosts
without bubblewrap and without cgroups. It makes itself a child subreaper (PR_SET_CHILD_SUBREAPER):
whatever the model leaves behind, a child in a session of its own or a double-forked daemon, is
re-parented to this process instead of to init, so it stays a descendant of the run. It then runs
the launcher and SIGKILLs every remaining descendant
- when the model exits (the run is over), then exits with the model's status (a death by signal
  as the same signal, so the flow reads it as before);
- on SIGTERM, SIGINT or SIGHUP (a cancel signals the flow's process group, this process included);
- when the flow dies (PR_SET_PDEATHSIG).
The flow also ends the tree through this process while it lives (`sandbox.end_reaped_trees`).
It cannot stop a model running as the same user from killing the reaper itself: without
bubblewrap a model has every right of the worker's user. Only the standard library and psutil,
imported when the run ends, so the model starts after little more than an interpreter start.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def end_descendants(root: psutil.Process, reap: bool = False) -> None:
    """SIGKILL every live descendant of `root` until none is left (a forking process may add one
    between two walks). `reap`: `root` is this process, so collect the dead as it goes."""
    import psutil

    for _ in range(500):
        try:
            alive = [p for p in root.children(recursive=True) if _alive(p)]
        except psutil.NoSuchProcess:
            return
        if not alive:
            return
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if reap:
            _reap_all()
        time.sleep(0.005)


def _alive(process: psutil.Process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _reap_all(block: bool = False) -> None:
    """Collect dead children (orphans re-parented here included); `block`: until none is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _end_everything() -> None:
    import psutil

    end_descendants(psutil.Process(), reap=True)
    _reap_all(block=True)  # a killed process leaves its children to us as it dies; none is left to init


def _prctl(option: int, value: int) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _end_run(signum: int, _frame: object) -> None:
    _end_everything()
    os._exit(128 + signum)


def _exit_like(status: int) -> None:
    """Leave with the model's wait status: its exit code, or death by the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig in ENDING_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    if argv[:1] != ["--"] or len(argv) < 2:
        sys.exit("usage: reaper.py -- command [args...]")
    parent = os.getppid()
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    for sig in ENDING_SIGNALS:
        signal.signal(sig, _end_run)
    if os.getppid() != parent:  # the flow died before the death signal was armed
        _end_run(signal.SIGTERM, None)
    model = os.fork()
    if model == 0:
        for sig in ENDING_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        try:
            os.execvp(argv[1], argv[1:])
        finally:
            os._exit(127)
    while True:
        pid, status = os.waitpid(-1, 0)  # orphans re-parented here are collected as they die
        if pid == model:
            break
    _end_everything()
    _exit_like(status)


if __name__ == "__main__":
    main(sys.argv[1:])
