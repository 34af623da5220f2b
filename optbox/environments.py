"""Models' own Python environments: a lock resolved once at upload, an environment built once per worker.

- `resolve` turns declared requirements into a lock (uv pip compile: every package pinned, with hashes)
  for the worker's exact Python and platform, wheels only unless OPTBOX_DEPS_ALLOW_SDIST, from
  OPTBOX_PACKAGE_INDEX_URL (and OPTBOX_PACKAGE_FIND_LINKS). A lock that cannot be made raises
  ResolutionError with uv's own words.
- `environment(lock)` yields the directory of a virtual environment with exactly that lock installed
  (bytecode compiled), building it first if this worker has none. Builds go into a temporary
  directory renamed into place under an exclusive file lock per lock hash, so simultaneous first runs
  build once and a failed build leaves nothing a later run would use. While in use an environment is
  held with a shared lock, which `prune` respects.
- `prune` removes the least recently used environments above OPTBOX_DEPS_CACHE_GB.

Building runs outside the model sandbox (it needs the index); the model then runs in the sandbox
with the environment mounted read-only. uv does the resolving, downloading and caching.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import uv
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from optbox.model_files import Requirements
from optbox.settings import get_settings

OnLine = Callable[[str], None]
STALE_STAGING_S = 6 * 3600  # a build or removal directory this old belongs to a worker that died
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


class ResolutionError(Exception):
    """The declared requirements have no lock here (unknown package, no version for this Python, a conflict)."""


class EnvironmentBuildError(Exception):
    """uv could not build an environment from a lock on this worker."""


def uv_bin() -> str:
    return uv.find_uv_bin()


def lock_sha256(lock: str) -> str:
    return hashlib.sha256(lock.encode()).hexdigest()


def pinned(lock: str) -> dict[str, str]:
    """Package name (normalised) -> version of every package in a lock."""
    found = {}
    for line in lock.splitlines():
        if match := _PIN.match(line):
            found[re.sub(r"[-_.]+", "-", match["name"]).lower()] = match["version"]
    return found


def lock_diff(old: str | None, new: str | None) -> dict[str, dict[str, str | None]]:
    """What changed between two locks: {package: {"from": version or None, "to": version or None}}."""
    before, after = pinned(old or ""), pinned(new or "")
    return {name: {"from": before.get(name), "to": after.get(name)} for name in sorted(before.keys() | after.keys())
            if before.get(name) != after.get(name)}


def python_version() -> str:
    return get_settings().deps_python_version or platform.python_version()


def python_platform() -> str:
    """uv's name for this machine: manylinux at this glibc (wheels built for a newer one would not load)."""
    if configured := get_settings().deps_python_platform:
        return configured
    return platform_for(sys.platform, platform.machine(), *platform.libc_ver())


# the manylinux levels uv names as --python-platform (uv 0.13): 2_17, 2_28 and 2_31 to 2_40
_MANYLINUX_MINORS = (40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 28, 17)


def platform_for(system: str, machine: str, libc: str, libc_version: str) -> str:
    """uv's --python-platform for a host: the highest manylinux level uv knows at or below its glibc."""
    if system != "linux":
        return {"darwin": "macos", "win32": "windows"}.get(system, system)
    if machine not in ("x86_64", "aarch64"):
        return "linux"
    if libc == "glibc" and libc_version.startswith("2."):
        minor = int(libc_version.split(".")[1])
        if level := next((known for known in _MANYLINUX_MINORS if known <= minor), None):
            return f"{machine}-manylinux_2_{level}"
    return f"{machine}-unknown-linux-gnu"


def base_python() -> str:
    """The interpreter environments are made from: the worker's own base Python (not its venv)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    return str(candidate if candidate.exists() else sys.executable)


def _source_args() -> list[str]:
    settings = get_settings()
    args = ["--no-config"]
    args += ["--index-url", settings.package_index_url] if settings.package_index_url else ["--no-index"]
    if settings.package_find_links:
        args += ["--find-links", settings.package_find_links]
    if not settings.deps_allow_sdist:
        args += ["--only-binary", ":all:"]
    return args


def _uv_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
            "http_proxy", "https_proxy", "no_proxy", "UV_CACHE_DIR", "XDG_CACHE_HOME")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(UV_PYTHON_DOWNLOADS="never", NO_COLOR="1")
    return env


def resolve(requirements: Requirements) -> str:
    """The lock of `requirements` for the worker's Python and platform, or ResolutionError (uv's message).
    An empty requirement list is an empty lock: the base environment."""
    if not requirements.dependencies:
        return ""
    if requirements.requires_python and not _python_matches(requirements.requires_python):
        raise ResolutionError(f"the model requires Python {requirements.requires_python}; this server runs Python {python_version()}")
    with tempfile.TemporaryDirectory(prefix="optbox-resolve-") as work:
        (Path(work) / "requirements.in").write_text("\n".join(requirements.dependencies) + "\n")
        command = [uv_bin(), "pip", "compile", "requirements.in", "-o", "requirements.txt", "--generate-hashes", "--no-header",
                   "--no-annotate", "--quiet", "--python-version", python_version(), "--python-platform", python_platform(),
                   *_source_args()]
        done = subprocess.run(command, cwd=work, env=_uv_env(), capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise ResolutionError(_uv_message(done.stderr, get_settings().deps_allow_sdist))
        return (Path(work) / "requirements.txt").read_text()


def _python_matches(specifier: str) -> bool:
    try:
        return SpecifierSet(specifier).contains(python_version(), prereleases=True)
    except InvalidSpecifier as exc:
        raise ResolutionError(f"requires-python {specifier!r} is not a version specifier: {exc}") from exc


def _uv_message(stderr: str, sdist_allowed: bool) -> str:
    message = stderr.strip() or "uv failed without a message"
    if not sdist_allowed and ("building from source is disabled" in message or "no usable wheels" in message):
        message += ("\n\noptbox installs wheels only: a package available only as a source distribution would run its build "
                    "code here. Ask for a version with wheels, or have the operator set OPTBOX_DEPS_ALLOW_SDIST=true.")
    return message[-4000:]


# ----- environments on a worker ------------------------------------------------------------


def environments_dir() -> Path:
    return get_settings().resolved_data_dir / "envs"


def _lock_file(root: Path, digest: str) -> Path:
    locks = root / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"{digest}.lock"


@contextlib.contextmanager
def environment(lock: str, on_line: OnLine | None = None, root: Path | None = None) -> Iterator[Path]:
    """The environment of `lock` (built now if missing), held against pruning while the caller uses it.
    `on_line` gets uv's output while building. Raises EnvironmentBuildError; nothing half-built remains."""
    root = root or environments_dir()
    digest = lock_sha256(lock)
    target = root / digest
    say = on_line or (lambda line: None)
    with _lock_file(root, digest).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_SH)
        if not _complete(target):
            fcntl.flock(held, fcntl.LOCK_UN)
            fcntl.flock(held, fcntl.LOCK_EX)  # one builder per lock; the others wait here and find it built
            if not _complete(target):
                say(f"preparing environment {digest[:12]} ({len(pinned(lock))} packages)")
                _build(lock, root, target, say)
                say(f"environment {digest[:12]} ready")
            fcntl.flock(held, fcntl.LOCK_SH)
            os.utime(target)
            prune(root=root)  # room for the new one: least recently used first, never one in use (this one included)
        os.utime(target)  # least recently used goes first
        yield target


def _complete(target: Path) -> bool:
    return (target / "bin" / "python").exists()


def _build(lock: str, root: Path, target: Path, say: OnLine) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".building-{target.name[:12]}-", dir=root))
    try:
        (staging / "requirements.txt").write_text(lock)
        _uv([uv_bin(), "venv", "--no-config", "--python", base_python(), str(staging / "venv")], staging, say)
        _uv([uv_bin(), "pip", "sync", "--python", str(staging / "venv" / "bin" / "python"), "--require-hashes",
             "--compile-bytecode", *_source_args(), str(staging / "requirements.txt")], staging, say)
        if target.exists():  # a complete-looking leftover without bin/python: out of the way first
            _remove(target)
        os.rename(staging / "venv", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _uv(command: list[str], cwd: Path, say: OnLine) -> None:
    process = subprocess.Popen(command, cwd=cwd, env=_uv_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        said.append(line.rstrip())
        say(f"uv: {line.rstrip()}")
    if process.wait() != 0:
        raise EnvironmentBuildError(f"could not build the model's environment: {' '.join(said[-10:]) or 'uv failed'}")


def _remove(path: Path) -> None:
    trash = path.with_name(f".removing-{path.name}-{os.getpid()}")
    os.rename(path, trash)  # gone from its name at once; the slow part happens out of sight
    shutil.rmtree(trash, ignore_errors=True)


def _size(path: Path) -> int:
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def prune(max_bytes: int | None = None, root: Path | None = None) -> list[str]:
    """Remove least recently used environments until the rest fit `max_bytes` (default OPTBOX_DEPS_CACHE_GB);
    one in use by a run is kept. Returns the lock hashes removed."""
    root = root or environments_dir()
    limit = max_bytes if max_bytes is not None else int(get_settings().deps_cache_gb * 1024 ** 3)
    if not root.exists():
        return []
    for leftover in root.glob(".[br]*-*"):  # .building-* / .removing-* of a worker killed mid-way
        if leftover.is_dir() and time.time() - leftover.stat().st_mtime > STALE_STAGING_S:
            shutil.rmtree(leftover, ignore_errors=True)
    built = sorted((path for path in root.iterdir() if not path.name.startswith(".") and path.is_dir()), key=lambda path: path.stat().st_mtime)
    sizes = {path: _size(path) for path in built}
    total, removed = sum(sizes.values()), []
    for path in built:
        if total <= limit:
            break
        with _lock_file(root, path.name).open("a") as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a run is using it
            _remove(path)
        total -= sizes[path]
        removed.append(path.name)
    return removed
