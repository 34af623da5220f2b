"""Run a model as a subprocess and hand each output line, in order, to a callback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from optbox.protocol import Stream

READ_CHUNK = 64 * 1024
MAX_LINE_BYTES = 1024 * 1024
CUT_MARKER = " …[line cut at {n} bytes]"

OnLine = Callable[[Stream, str], None]


async def _pump(reader: asyncio.StreamReader, stream: Stream, on_line: OnLine) -> None:
    """Split a byte stream into lines; never hold more than MAX_LINE_BYTES of one line."""
    pending = bytearray()
    cutting = False
    while chunk := await reader.read(READ_CHUNK):
        pending += chunk
        while (newline := pending.find(b"\n")) >= 0:
            if not cutting:
                on_line(stream, _decode(pending[:newline]))
            cutting = False
            del pending[: newline + 1]
        if len(pending) > MAX_LINE_BYTES and not cutting:
            on_line(stream, _decode(pending[:MAX_LINE_BYTES]) + CUT_MARKER.format(n=MAX_LINE_BYTES))
            cutting = True
        if cutting:
            pending.clear()
    if pending and not cutting:
        on_line(stream, _decode(pending))


def _decode(raw: bytes | bytearray) -> str:
    return bytes(raw).rstrip(b"\r").decode("utf-8", errors="replace")


async def run_model_process(argv: list[str], *, env: dict[str, str], cwd: Path, on_line: OnLine) -> int:
    """Run `argv` to completion; returns its exit code (negative: killed by that signal).

    The model stays in the flow's process group on purpose: when Prefect cancels
    the run it signals that group, so the model goes with its flow. If this
    coroutine is cancelled, the model is killed.
    """
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.gather(_pump(process.stdout, Stream.stdout, on_line), _pump(process.stderr, Stream.stderr, on_line))
        return await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
