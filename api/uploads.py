"""What makes an uploaded model or dataset acceptable, checked before anything is stored."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from api.config_schema import declared_schema
from api.errors import ApiError
from api.syntax_check import compile_model, ruff_finds_nothing
from optbox import environments, model_files
from optbox.model_files import ModelFileError, ModelFiles

DATASET_SUFFIXES = {".csv": "csv", ".xlsx": "xlsx"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(raw: str | None, default_stem: str = "model") -> str:
    """The last path component of a client filename, reduced to [A-Za-z0-9._-]."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = _UNSAFE.sub("_", name).strip("._") or default_stem
    return name[-120:]


def model_name_for(filename: str) -> str:
    return model_files.stem(filename)


def check_model_file(filename: str | None, data: bytes, max_bytes: int) -> None:
    """A .py upload within the size limit, or a 4xx ApiError."""
    if not filename or not filename.lower().endswith(".py"):
        raise ApiError(400, "only Python files (.py) or model archives (.zip, .tar.gz) can be uploaded", {"filename": filename})
    _check_size(data, max_bytes)


def check_model_text(data: bytes) -> str:
    """The decoded source of a text model (its syntax aside), or a 400 ApiError that says what is wrong."""
    if b"\x00" in data:
        raise ApiError(400, "file contains NUL bytes; a model must be a text file", {"offset": data.index(b"\x00")})
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # a BOM is allowed: Python reads past it
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"file is not valid UTF-8 (byte {exc.start})", {"offset": exc.start}) from exc


def checked_schema(filename: str, data: bytes, source: str) -> dict[str, Any] | None:
    """CPython's verdict: the declared CONFIG_SCHEMA of a model that compiles, or a 422 ApiError with the line."""
    try:
        code = compile_model(data, filename)
    except SyntaxError as exc:
        raise ApiError(422, f"syntax error on line {exc.lineno}: {exc.msg}", {"line": exc.lineno, "offset": exc.offset, "text": (exc.text or "").rstrip()}) from exc
    return declared_schema(source, code)


@dataclass(frozen=True)
class CheckedModel:
    """An upload that may be stored. `confirmed` False: ruff's parser found nothing and the schema was read
    without CPython's compile; `check_with_cpython` gives CPython's verdict next, which may still refuse it."""

    schema: dict[str, Any] | None
    confirmed: bool


# Up to this size CPython's compile answers in tens of milliseconds, right here. Past it, compiling holds the
# GIL for seconds (4-5 s for 10 MB: the facade froze and Socket.IO clients were dropped for missed
# pings), so ruff's parser answers and CPython's compile runs in the checker process.
IN_PROCESS_MAX_BYTES = 64 * 1024
RUFF_TIMEOUT_S = 10.0
_checker: ProcessPoolExecutor | None = None


def _model_checker() -> ProcessPoolExecutor:
    global _checker
    if _checker is None:
        _checker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_yield_to_everything)
    return _checker


def _yield_to_everything() -> None:
    """In the checker: CPython's compile of a big model runs there for seconds after its answer, so it takes
    only CPU nothing else wants (SCHED_IDLE; a niced compile still slowed ruff's parse of the next upload
    by ~15 %), and a model's runs compile it themselves before they start meanwhile."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        os.nice(19)


def warm_model_checker() -> None:
    """Start the checker process now (it imports this module once), not at the first big upload."""
    _model_checker().submit(int).result()


def stop_model_checker() -> None:
    global _checker
    if _checker is not None:
        _checker.shutdown(cancel_futures=True)
        _checker = None


async def check_model(filename: str | None, data: bytes, max_bytes: int) -> CheckedModel:
    """A model that may be stored (see CheckedModel), or a 4xx ApiError that says what is wrong."""
    check_model_file(filename, data, max_bytes)
    name = filename or ""  # check_model_file refused a missing one
    if len(data) <= IN_PROCESS_MAX_BYTES:
        source = check_model_text(data)
        return CheckedModel(checked_schema(name, data, source), confirmed=True)
    source = check_model_text(data)
    if await ruff_finds_nothing(data, RUFF_TIMEOUT_S):
        return CheckedModel(declared_schema(source), confirmed=False)
    return CheckedModel(await check_with_cpython(name, data), confirmed=True)


async def check_with_cpython(filename: str, data: bytes) -> dict[str, Any] | None:
    """`checked_schema` in the checker process, so the facade keeps serving meanwhile."""
    try:
        outcome = await asyncio.get_running_loop().run_in_executor(_model_checker(), _check_in_checker, filename, data)
    except BrokenProcessPool:  # the checker died (killed, out of memory): a new one, once
        stop_model_checker()
        outcome = await asyncio.get_running_loop().run_in_executor(_model_checker(), _check_in_checker, filename, data)
    if outcome[0] == "refused":
        _, status_code, error, details = outcome
        raise ApiError(status_code, error, details)
    return outcome[1]


def _check_in_checker(filename: str, data: bytes) -> tuple:
    """In the checker process. ApiError does not survive pickling, so a refusal travels as data."""
    try:
        return "ok", checked_schema(filename, data, check_model_text(data))
    except ApiError as exc:
        return "refused", exc.status_code, exc.error, exc.details


@dataclass(frozen=True)
class CheckedUpload:
    """A model upload that may be stored: its check, its files, and its dependency lock ("" for none)."""

    checked: CheckedModel
    files: ModelFiles
    lock: str


async def check_upload(filename: str | None, data: bytes, max_bytes: int, entry: str | None = None) -> CheckedUpload:
    """A .py model or a model archive, checked, with its declared dependencies locked; or a 4xx ApiError
    (archives that are unsafe or over the limits, an entry that does not compile, dependencies uv cannot
    resolve for this server's Python and platform, with uv's own message)."""
    name = filename or ""
    try:
        if model_files.is_archive(name):
            _check_size(data, max_bytes)
            files = await asyncio.to_thread(model_files.read_model, name, data, entry)
            source = check_model_text(files.entry_source)
            checked = CheckedModel(checked_schema(files.entry, files.entry_source, source), confirmed=True)
        else:
            checked = await check_model(filename, data, max_bytes)
            files = await asyncio.to_thread(model_files.read_model, name, data)
    except ModelFileError as exc:
        raise ApiError(exc.status, str(exc)) from exc
    try:
        lock = await asyncio.to_thread(environments.resolve, files.requirements)
    except environments.ResolutionError as exc:
        raise ApiError(422, f"the model's dependencies cannot be installed here: {exc}",
                       {"dependencies": files.requirements.dependencies}) from exc
    return CheckedUpload(checked, files, lock)


def check_dataset(filename: str | None, data: bytes, max_bytes: int) -> str:
    suffix = PurePosixPath(filename or "").suffix.lower()
    if suffix not in DATASET_SUFFIXES:
        raise ApiError(400, "datasets must be .csv or .xlsx files", {"filename": filename})
    _check_size(data, max_bytes)
    if suffix == ".xlsx" and not data.startswith(b"PK"):
        raise ApiError(400, "not an .xlsx file (it is not a zip archive)")
    if suffix == ".csv":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, f"CSV is not valid UTF-8 (byte {exc.start})") from exc
    return DATASET_SUFFIXES[suffix]


def _check_size(data: bytes, max_bytes: int) -> None:
    if not data:
        raise ApiError(400, "file is empty")
    if len(data) > max_bytes:
        raise ApiError(413, f"file is larger than the {max_bytes // (1024 * 1024)} MB limit", {"size": len(data), "limit": max_bytes})
