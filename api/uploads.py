"""What makes an uploaded model or dataset acceptable, checked before anything is stored."""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import PurePosixPath, PureWindowsPath
from types import CodeType
from typing import Any

from api.config_schema import declared_schema
from api.errors import ApiError

DATASET_SUFFIXES = {".csv": "csv", ".xlsx": "xlsx"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(raw: str | None, default_stem: str = "model") -> str:
    """The last path component of a client filename, reduced to [A-Za-z0-9._-]."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = _UNSAFE.sub("_", name).strip("._") or default_stem
    return name[-120:]


def model_name_for(filename: str) -> str:
    return filename.rsplit(".", 1)[0] or "model"


def check_model_source(filename: str | None, data: bytes, max_bytes: int) -> tuple[str, CodeType]:
    """Return the decoded source and its module code, or raise a 4xx ApiError that says what is wrong."""
    if not filename or not filename.lower().endswith(".py"):
        raise ApiError(400, "only Python files (.py) can be uploaded", {"filename": filename})
    _check_size(data, max_bytes)
    if b"\x00" in data:
        raise ApiError(400, "file contains NUL bytes; a model must be a text file", {"offset": data.index(b"\x00")})
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"file is not valid UTF-8 (byte {exc.start})", {"offset": exc.start}) from exc
    try:
        # Compiling to bytecode checks what the flow will check before it runs the model, and is
        # 2-3x faster on big files than ast.parse, which builds a Python object per node.
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ApiError(422, f"syntax error on line {exc.lineno}: {exc.msg}", {"line": exc.lineno, "offset": exc.offset, "text": (exc.text or "").rstrip()}) from exc
    return source, code


# Compiling holds the GIL from start to end: a 10 MB model froze the facade for seconds (no live
# lines, Socket.IO clients dropped for missed pings). Big models are checked in a worker process.
IN_PROCESS_MAX_BYTES = 512 * 1024
_checker: ProcessPoolExecutor | None = None


def _model_checker() -> ProcessPoolExecutor:
    global _checker
    if _checker is None:
        _checker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _checker


def warm_model_checker() -> None:
    """Start the checker process now (it imports this module once), not at the first big upload."""
    _model_checker().submit(int).result()


def stop_model_checker() -> None:
    global _checker
    if _checker is not None:
        _checker.shutdown(cancel_futures=True)
        _checker = None


async def check_model(filename: str | None, data: bytes, max_bytes: int) -> tuple[str, dict[str, Any] | None]:
    """The decoded source and its declared CONFIG_SCHEMA, or a 4xx ApiError that says what is wrong."""
    if len(data) <= IN_PROCESS_MAX_BYTES:
        return _check(filename, data, max_bytes)
    outcome = await asyncio.get_running_loop().run_in_executor(_model_checker(), _check_elsewhere, filename, data, max_bytes)
    if outcome[0] == "refused":
        _, status_code, error, details = outcome
        raise ApiError(status_code, error, details)
    return data.decode("utf-8"), outcome[1]


def _check(filename: str | None, data: bytes, max_bytes: int) -> tuple[str, dict[str, Any] | None]:
    source, code = check_model_source(filename, data, max_bytes)
    return source, declared_schema(source, code)


def _check_elsewhere(filename: str | None, data: bytes, max_bytes: int) -> tuple:
    """In the checker process. ApiError does not survive pickling, so a refusal travels as data."""
    try:
        return "ok", _check(filename, data, max_bytes)[1]
    except ApiError as exc:
        return "refused", exc.status_code, exc.error, exc.details


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
