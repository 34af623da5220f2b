"""Run a model as a subprocess and hand each output line, in order, to a callback.

Guarantees: every line of each stream reaches `on_line` in order, cut at
MAX_LINE_BYTES with a marker (memory per stream stays bounded whatever the model
writes; `room` lets the caller hold the reading while its own backlog is full); the call returns once the model has exited, or `timeout_s` passed and the
model was killed. Processes the model leaves behind holding its pipes cannot keep
it waiting: after the model exits they get DRAIN_S of reading time, then `kill_tree`. Lines
still in the pipes when the model exits are read whatever the caller's `room` holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from optbox.protocol import Stream

READ_CHUNK = 256 * 1024
MAX_LINE_BYTES = 1024 * 1024
CUT_MARKER = " …[line cut at {n} bytes]"
DRAIN_S = 2.0
EXIT_POLL_S = 0.05

OnLine = Callable[[Stream, str], None]


@dataclass
class ModelExit:
    exit_code: int  # negative: killed by that signal
    timed_out: bool = False


@dataclass
class Bulk:
    """Past the log cap the sink wants only lines that may carry a report; the rest it just counts.
    `dropping()` says whether that is so now; `dropped(n)` takes the count of lines skipped unread."""

    dropping: Callable[[], bool]
    dropped: Callable[[int], None]


# what parse_report can find in a line; a block of complete lines without any is skipped unread
REPORT_HINT = re.compile(rb"::optbox |Objective value:|Results written:")


async def _pump(reader: asyncio.StreamReader, stream: Stream, on_line: OnLine, bulk: Bulk | None = None,
                room: Callable[[], Awaitable[None]] | None = None) -> None:
    """Split a byte stream into lines; never hold more than MAX_LINE_BYTES of one line.
    Before each read, `room()` may hold the pump (the model then blocks on a full pipe)."""
    pending = bytearray()
    cutting = False  # inside a line already handed on cut: drop the rest of it
    while True:
        if room is not None:
            await room()
        if not (chunk := await reader.read(READ_CHUNK)):
            break
        if bulk is not None and not cutting and bulk.dropping():
            chunk = _skip_complete_lines(pending, chunk, bulk)
            if not chunk:
                continue
        *ended, tail = chunk.split(b"\n")
        for part in ended:
            if cutting:
                cutting = False
                continue
            if pending:
                pending += part
                part = bytes(pending)
                pending.clear()
            on_line(stream, _cut(part) if len(part) > MAX_LINE_BYTES else _decode(part))
        if not cutting:
            pending += tail
            if len(pending) > MAX_LINE_BYTES:
                on_line(stream, _cut(pending))
                pending.clear()
                cutting = True
    if pending and not cutting:
        on_line(stream, _decode(pending))


def _skip_complete_lines(pending: bytearray, chunk: bytes, bulk: Bulk) -> bytes:
    """The fast path past the cap (an output flood costs C-speed scanning, not a call per line):
    complete lines without a report hint are counted and dropped; returns what still needs splitting."""
    end = chunk.rfind(b"\n")
    if end < 0:
        return chunk
    block = bytes(pending) + chunk[: end + 1]
    if REPORT_HINT.search(block):
        return chunk
    bulk.dropped(block.count(b"\n"))
    pending.clear()
    return chunk[end + 1:]


def _cut(raw: bytes | bytearray) -> str:
    return _decode(raw[:MAX_LINE_BYTES]) + CUT_MARKER.format(n=MAX_LINE_BYTES)


def _decode(raw: bytes | bytearray) -> str:
    return bytes(raw).rstrip(b"\r").decode("utf-8", errors="replace")


async def _exited(process: asyncio.subprocess.Process) -> int:
    """The exit code, as soon as the process exits (Process.wait() also waits for its pipes to close)."""
    while process.returncode is None:
        await asyncio.sleep(EXIT_POLL_S)
    return process.returncode


async def run_model_process(
    argv: list[str], *, env: dict[str, str], cwd: Path, on_line: OnLine,
    timeout_s: float | None = None, kill_tree: Callable[[], None] | None = None, bulk: Bulk | None = None,
    room: Callable[[], Awaitable[None]] | None = None, on_start: Callable[[int], None] | None = None,
) -> ModelExit:
    """Run `argv` to completion or to `timeout_s`.

    The model stays in the flow's process group on purpose: when Prefect cancels
    the run it signals that group, so the model goes with its flow. If this
    coroutine is cancelled, the model (and with `kill_tree`, its whole tree) is killed.
    `on_start` gets the model's pid as soon as it runs.
    """
    kill_tree = kill_tree or (lambda: None)
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    if on_start is not None:
        on_start(process.pid)
    held = _Held(room)
    pumps = asyncio.gather(_pump(process.stdout, Stream.stdout, on_line, bulk, held.room if room else None),
                           _pump(process.stderr, Stream.stderr, on_line, None, held.room if room else None))
    timed_out = False
    try:
        try:
            exit_code = await asyncio.wait_for(_exited(process), timeout_s)
        except TimeoutError:
            timed_out = True
            _kill(process, kill_tree)
            exit_code = await _exited(process)
        if not await _drained(pumps, held):  # something the model started still holds its output open
            kill_tree()
            await _drained(pumps, held)
        return ModelExit(exit_code=exit_code, timed_out=timed_out)
    finally:
        if process.returncode is None:
            _kill(process, kill_tree)
            await _exited(process)
        if not pumps.done():
            pumps.cancel()
            await asyncio.gather(pumps, return_exceptions=True)


class _Held:
    """`room`, counting the pumps waiting in it: time the caller holds the reading is not time a pipe was held open."""

    def __init__(self, room: Callable[[], Awaitable[None]] | None) -> None:
        self._room = room
        self.waiting = 0

    async def room(self) -> None:
        self.waiting += 1
        try:
            await self._room()
        finally:
            self.waiting -= 1


async def _drained(pumps: asyncio.Future, held: _Held) -> bool:
    """Whether the pumps reach the end of the model's output within DRAIN_S of reading time. What is left in the
    pipes when the model exits is bounded by their buffers, and every line of it is read, however long the caller
    holds the reading (its backlog full): only time the pumps are free to read counts against DRAIN_S."""
    reading_s = 0.0
    while not pumps.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pumps), EXIT_POLL_S)
        if held.waiting == 0:
            reading_s += EXIT_POLL_S
            if reading_s >= DRAIN_S and not pumps.done():
                return False
    return True


def _kill(process: asyncio.subprocess.Process, kill_tree: Callable[[], None]) -> None:
    kill_tree()
    with contextlib.suppress(ProcessLookupError):
        process.kill()
