"""What a model upload holds: one .py file, or an archive (.zip, .tar.gz) of a model's files, and the
Python packages it declares.

- A single file declares its packages with PEP 723 inline script metadata (a `# /// script` block with
  `dependencies` and optionally `requires-python`), so the same file runs locally with `uv run model.py`.
- An archive holds an entry file (`main.py`, or the one `[tool.optbox] entry` in its pyproject.toml or
  the upload names) plus its modules and small data files; its packages are pyproject.toml's
  `[project] dependencies` (and `requires-python`), else requirements.txt's lines.

Contract: `read_model` and `unpack` either return or raise ModelFileError (with the HTTP status the
facade answers); an archive with absolute paths, `..`, links or special files, more than MAX_MEMBERS
members or more than MAX_UNPACKED_BYTES unpacked is refused before a byte of it is written.
"""

from __future__ import annotations

import io
import re
import stat
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 1000
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")
DEFAULT_ENTRY = "main.py"
_PEP723 = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


class ModelFileError(ValueError):
    """The upload cannot be a model; `status` is the HTTP answer (400 bad input, 413 too big, 422 unusable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Requirements:
    """The packages a model declares (PEP 508 strings) and the Pythons it says it runs on."""

    dependencies: list[str] = field(default_factory=list)
    requires_python: str | None = None


@dataclass(frozen=True)
class ModelFiles:
    """An upload read: its files by relative path, which one runs, and what it needs."""

    files: dict[str, bytes]
    entry: str
    requirements: Requirements

    @property
    def entry_source(self) -> bytes:
        return self.files[self.entry]


def is_archive(filename: str) -> bool:
    return filename.lower().endswith(ARCHIVE_SUFFIXES)


def stem(filename: str) -> str:
    """The model's name from its file's: `battery.py`, `battery.zip` and `battery.tar.gz` all give `battery`."""
    lower = filename.lower()
    for suffix in (*ARCHIVE_SUFFIXES, ".py"):
        if lower.endswith(suffix):
            return filename[: -len(suffix)] or "model"
    return filename or "model"


def script_requirements(source: str) -> Requirements:
    """The PEP 723 `script` block of a single-file model (none: no requirements)."""
    blocks = [match for match in _PEP723.finditer(source) if match.group("type") == "script"]
    if not blocks:
        return Requirements()
    if len(blocks) > 1:
        raise ModelFileError(422, "more than one `# /// script` block; PEP 723 allows one")
    content = "".join(line[2:] if line.startswith("# ") else line[1:] for line in blocks[0].group("content").splitlines(keepends=True))
    try:
        metadata = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(422, f"the `# /// script` block is not valid TOML: {exc}") from exc
    return _requirements(metadata, "the `# /// script` block")


def _requirements(table: dict, where: str) -> Requirements:
    dependencies = table.get("dependencies", [])
    requires_python = table.get("requires-python")
    if not isinstance(dependencies, list) or not all(isinstance(item, str) for item in dependencies):
        raise ModelFileError(422, f"{where}: `dependencies` must be a list of strings")
    if requires_python is not None and not isinstance(requires_python, str):
        raise ModelFileError(422, f"{where}: `requires-python` must be a string")
    return Requirements([item.strip() for item in dependencies if item.strip()], requires_python)


def read_model(filename: str, data: bytes, entry: str | None = None) -> ModelFiles:
    """The upload's files, entry and requirements. A .py file's text must already have been checked (UTF-8)."""
    if not is_archive(filename):
        if b"# /// script" not in data:  # the common case, answered without decoding a big model
            return ModelFiles({filename: data}, filename, Requirements())
        return ModelFiles({filename: data}, filename, script_requirements(data.decode("utf-8", errors="replace")))
    files = unpack(filename, data)
    return ModelFiles(files, *_entry_and_requirements(files, entry))


def _entry_and_requirements(files: dict[str, bytes], asked: str | None) -> tuple[str, Requirements]:
    pyproject: dict = {}
    if "pyproject.toml" in files:
        try:
            pyproject = tomllib.loads(files["pyproject.toml"].decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ModelFileError(422, f"pyproject.toml is not valid TOML: {exc}") from exc
    entry = asked or pyproject.get("tool", {}).get("optbox", {}).get("entry") or DEFAULT_ENTRY
    if entry not in files:
        raise ModelFileError(422, f"the archive has no entry file {entry!r} (name it main.py, set [tool.optbox] entry in "
                                  "pyproject.toml, or give the upload's entry field)")
    if not entry.endswith(".py"):
        raise ModelFileError(422, f"the entry file {entry!r} is not a .py file")
    if "project" in pyproject:
        return entry, _requirements(pyproject["project"], "pyproject.toml [project]")
    if "requirements.txt" in files:
        lines = files["requirements.txt"].decode("utf-8", errors="replace").splitlines()
        wanted = [line.split("#", 1)[0].strip() for line in lines]
        if any(line.startswith("-") for line in wanted):
            raise ModelFileError(422, "requirements.txt: options (-r, -e, --index-url, ...) are not accepted; list packages only")
        return entry, Requirements([line for line in wanted if line])
    return entry, Requirements()


def _checked_name(name: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise ModelFileError(400, f"archive member {name!r} has an absolute path")
    if ".." in path.parts:
        raise ModelFileError(400, f"archive member {name!r} points outside the archive (..)")
    return path.as_posix()


def unpack(filename: str, data: bytes) -> dict[str, bytes]:
    """The regular files of a .zip or .tar.gz by relative path (directories implied), after every check."""
    try:
        if filename.lower().endswith(".zip"):
            return _unpack_zip(data)
        return _unpack_tar(data)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ModelFileError(400, f"not a readable {'zip' if filename.lower().endswith('.zip') else 'tar.gz'} archive: {exc}") from exc


def _check_count(count: int) -> None:
    if count > MAX_MEMBERS:
        raise ModelFileError(413, f"the archive has {count} members; at most {MAX_MEMBERS} are allowed")


def _check_total(total: int) -> None:
    if total > MAX_UNPACKED_BYTES:
        raise ModelFileError(413, f"the archive unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB")


def _unpack_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        _check_count(len(members))
        _check_total(sum(member.file_size for member in members))
        wanted = []
        for member in members:
            name = _checked_name(member.filename)
            kind = stat.S_IFMT(member.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise ModelFileError(400, f"archive member {member.filename!r} is a link; links are not accepted")
            if member.is_dir():
                continue
            if kind not in (0, stat.S_IFREG):
                raise ModelFileError(400, f"archive member {member.filename!r} is not a regular file")
            wanted.append((name, member))
        files, total = {}, 0
        for name, member in wanted:
            with archive.open(member) as handle:  # the declared sizes may lie: count what comes out
                content = handle.read(MAX_UNPACKED_BYTES - total + 1)
            total += len(content)
            _check_total(total)
            files[name] = content
    return _without_common_folder(files)


def _unpack_tar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = []
        for member in archive:
            members.append(member)
            _check_count(len(members))
        _check_total(sum(member.size for member in members if member.isfile()))
        files = {}
        for member in members:
            name = _checked_name(member.name)
            if member.issym() or member.islnk():
                raise ModelFileError(400, f"archive member {member.name!r} is a link; links are not accepted")
            if member.isdir():
                continue
            if not member.isfile():
                raise ModelFileError(400, f"archive member {member.name!r} is not a regular file")
            handle = archive.extractfile(member)
            files[name] = handle.read() if handle else b""
    return _without_common_folder(files)


def _without_common_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """An archive of a folder (`battery/main.py`, ...) reads as the folder's contents."""
    files = {name: content for name, content in files.items() if name not in (".", "")}
    if not files:
        raise ModelFileError(400, "the archive holds no files")
    for name in files:
        if clash := next((parent.as_posix() for parent in PurePosixPath(name).parents if parent.as_posix() in files), None):
            raise ModelFileError(400, f"archive member {name!r} is inside {clash!r}, which is a file")
    tops = {PurePosixPath(name).parts[0] for name in files}
    if len(tops) == 1 and all(len(PurePosixPath(name).parts) > 1 for name in files):
        top = tops.pop()
        return {PurePosixPath(name).relative_to(top).as_posix(): content for name, content in files.items()}
    return files


def write_files(files: dict[str, bytes], target: Path) -> None:
    """Write unpacked files under `target` (their names were checked by `unpack`)."""
    for name, content in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
