"""A model's syntax: ruff's parser for a fast first opinion on big files, CPython's compile for the verdict.

CPython compiles a 10 MB model in 4-5 s on this machine; ruff's Rust parser reads it in about 0.3 s, on one
core: a big model's data table is cut into parts that ruff reads side by side (`table_parts`).
`ruff_finds_nothing` never refuses a model by itself: a finding, a ruff failure or a timeout only
means CPython decides before the answer (`compile_model`, in the checker process), so every refusal
carries CPython's own message and line. Where ruff finds nothing, the upload is answered at once and
CPython's compile follows in the checker process; the rare file that ruff accepts and CPython refuses
(tests/api/test_syntax_check.py lists the known kinds: literals past CPython's limits, a few
compiler-only checks) is then marked invalid.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from types import CodeType

from ruff import find_ruff_bin

log = logging.getLogger(__name__)

# Rules whose findings are SyntaxErrors in CPython's compiler (not its parser): without them ruff's
# parser accepts `return` at module level, `break` outside a loop, a late `from __future__ import`, …
COMPILER_ERROR_RULES = ("F404", "F406", "F407", "F622", "F701", "F702", "F704", "F706", "F707",
                        "PLE0115", "PLE0117", "PLE0118", "PLE1142", "PLE1700")
TARGET_VERSION = f"py{sys.version_info.major}{sys.version_info.minor}"  # models run on this interpreter


def ruff_command() -> list[str]:
    return [find_ruff_bin(), "check", "--isolated", "--no-cache", "--quiet", "--select", ",".join(COMPILER_ERROR_RULES),
            "--target-version", TARGET_VERSION, "--output-format", "concise", "--stdin-filename", "model.py", "-"]


async def ruff_finds_nothing(data: bytes, timeout_s: float) -> bool:
    """True when ruff reports no syntax error and none of CPython's compile-time errors in `data`."""
    if len(data) >= SPLIT_MIN_BYTES:
        verdict = await shapes_find_nothing(data, timeout_s)
        if verdict is None:
            parts = table_parts(data, os.cpu_count() or 1)
            verdict = parts is not None and await _ruff_finds_nothing_in_all(parts, timeout_s)
        if verdict:
            return True
    return await _ruff_finds_nothing_in_all([[data]], timeout_s)  # a finding in a part is confirmed on the whole


# Below this, one ruff reads the model in ~30 ms: cutting it would save less than starting more processes costs.
SPLIT_MIN_BYTES = 1024 * 1024
_TABLE_START = re.compile(rb"^[A-Za-z_][A-Za-z0-9_]* = \[[ \t]*\r?\n", re.MULTILINE)  # `NAME = [` alone, at column 0
_COLUMN_ZERO_LINE = re.compile(rb"\n[^ \t\r\n]")
_LINE_SEARCH_LIMIT = 200  # lines tried past each cut's target before giving up on cutting


def table_parts(data: bytes, parts: int) -> list[list[bytes | memoryview]] | None:
    """Ruff inputs (each a list of chunks) that find nothing only where ruff finds no syntax error in `data`,
    for `parts` processes; None when the model has no table to cut.

    The table is the first `NAME = [` line at column 0. H is the model up to the end of the table's first row
    line that ends in a comma outside a comment; R, the rows after it up to a line near the end, cut into
    pieces after such lines, with every line of R indented; T is the rest. Ruff reads H + "0]" (accepted:
    H ends after a comma in a list at depth 1, outside any string, where an element may start), H + T, and
    each piece as "_ = [" + piece + "0]" (accepted: whole elements, each followed by its comma, lexed as in
    the model). The model is H + T with those elements inserted after a comma of that list, so it parses
    where H + T does. What the pieces cannot show, read apart from their context, is left to the CPython
    compile that follows every big upload: a table that is also an assignment target (`A = [x, y] = v`),
    a name in R used before a module-level `global` of it. Rows are checked as module-level code, so a
    `yield` or `await` in the rows of a table inside a function is a finding, and the whole is read then."""
    start = _TABLE_START.search(data)
    if parts < 2 or start is None:
        return None
    head_end = _row_end_after(data, start.end(), _LINE_SEARCH_LIMIT)
    if head_end is None:
        return None
    cuts = [_row_end_after(data, head_end + (len(data) - head_end) * i // parts, _LINE_SEARCH_LIMIT) for i in range(1, parts)]
    bounds = [head_end, *cuts]
    if None in bounds or bounds != sorted(set(bounds)) or _COLUMN_ZERO_LINE.search(data, head_end - 1, cuts[-1]):
        return None
    view = memoryview(data)  # the parts are written out, never joined: no copies of a 10 MB model
    head, tail = view[:head_end], view[cuts[-1]:]
    pieces = [view[a:b] for a, b in zip(bounds, bounds[1:])]
    return [[head, b"0]\n"], [head, tail], *([b"_ = [", piece, b"0]\n"] for piece in pieces)]


async def shapes_find_nothing(data: bytes, timeout_s: float) -> bool | None:
    """Whether ruff finds nothing in inputs that find nothing only where ruff finds no syntax error in `data`,
    for a table whose rows repeat a few shapes; None when the model has no such table. Each distinct shape is
    read once instead of every row: a 10 MB table of 250,000 rows has ~2,700 (100 KB).

    H and T are as in `table_parts`, R the table's rows between them, T starting at the last line before the
    table's end (its first line at column 0) that ends in a comma outside a comment. A row's shape is the
    line with every digit 1-9 written as 1: whether a number is valid Python depends on its digits only
    through which are 0 (leading zeros) and, after `0b`/`0o`, their values, so R is refused here where that
    prefix occurs, and where anything else reads digits: a backslash (escapes, `\\N{…}`, line joins). Nor may
    R hold what lets a token span lines (triple quotes, a lone CR) or what CPython refuses in any source
    (NUL, bytes that are not UTF-8). Each distinct shape must end in a comma (a comment cut first, where the
    line has no quotes), and ruff reads each as `_ = [` + shape + `0]`, a statement of its own: one that
    leaves a bracket open or closes one it did not open cannot be followed by the next statement. So each
    row is complete elements, each followed by its comma, and H + R + T parses where H + T and H + "0]" do
    (`table_parts`). What a shape cannot show is left to the CPython compile after, as for the parts."""
    bounds = _table_rows(data)
    if bounds is None:
        return None
    head_end, rows_end = bounds
    view = memoryview(data)
    around = asyncio.ensure_future(_ruff_finds_nothing_in_all([[view[:head_end], b"0]\n"], [view[:head_end], view[rows_end:]]], timeout_s))
    try:  # ruff reads H and T while the shapes are gathered
        shapes = await _row_shapes(data, head_end, rows_end)
        if shapes is None or sum(len(shape) for shape in shapes) > max((rows_end - head_end) // 4, SHAPES_ALWAYS_BYTES):
            return None  # rows of many shapes: the parts, read side by side, are faster
        statements = b"".join(b"_ = [\n%s\n0]\n" % shape for shape in shapes)
        return all(await asyncio.gather(around, _ruff_finds_nothing_in([statements], timeout_s)))
    finally:
        if not around.done():
            around.cancel()
            await asyncio.gather(around, return_exceptions=True)


_ONE_TO_NINE_AS_ONE = bytes.maketrans(b"23456789", b"11111111")
_NOT_SHAPED = (b"\\", b"\r", b"\x00", b"'''", b'"""')
_BINARY_OR_OCTAL = re.compile(rb"0[bBoO]")
SHAPES_ALWAYS_BYTES = 256 * 1024  # up to here, shapes are read whatever R's size
_SHAPE_CHUNK_BYTES = 1024 * 1024  # the event loop is let go between chunks: ~10 ms each here


def _table_rows(data: bytes) -> tuple[int, int] | None:
    """Where R starts and ends (see shapes_find_nothing), or None."""
    start = _TABLE_START.search(data)
    head_end = None if start is None else _row_end_after(data, start.end(), _LINE_SEARCH_LIMIT)
    if head_end is None:
        return None
    column_zero = _COLUMN_ZERO_LINE.search(data, head_end - 1)
    if column_zero is None:
        return None
    rows_end = _row_end_before(data, column_zero.start() + 1, head_end, _LINE_SEARCH_LIMIT)
    return None if rows_end is None else (head_end, rows_end)


async def _row_shapes(data: bytes, start: int, end: int) -> list[bytes] | None:
    """The distinct shapes of the lines in data[start:end] (blank and comment-only lines left out),
    each ending in its comma; None where a line cannot be read by its shape."""
    shapes: set[bytes] = set()
    position = start
    while position < end:
        stop = min(end, data.find(b"\n", position + _SHAPE_CHUNK_BYTES) + 1 or end)
        chunk = data[position:stop]
        if any(mark in chunk for mark in _NOT_SHAPED) or not _is_utf8(chunk):
            return None
        shapes.update(chunk.translate(_ONE_TO_NINE_AS_ONE).split(b"\n"))
        position = stop
        await asyncio.sleep(0)
    kept = []
    for shape in shapes:
        code = shape.rstrip()
        if b"#" in code:
            if b"'" in code or b'"' in code:  # the sign may be in a string
                return None
            code = code[:code.index(b"#")].rstrip()
        if not code.strip():
            continue
        if not code.endswith(b",") or _BINARY_OR_OCTAL.search(code):
            return None
        kept.append(code)
    return kept


def _is_utf8(chunk: bytes) -> bool:
    if chunk.isascii():
        return True
    try:
        chunk.decode()
    except UnicodeDecodeError:
        return False
    return True


def _row_end_before(data: bytes, position: int, floor: int, tries: int) -> int | None:
    """The end (past its newline) of the last line before `position` (a line start) whose text ends in a comma
    outside any comment, not before `floor`, within `tries` lines."""
    end = position
    for _ in range(tries):
        if end <= floor:
            return None
        line_start = data.rfind(b"\n", 0, end - 1) + 1
        if _ends_a_row(data[line_start:end - 1]):
            return end
        end = line_start
    return None


def _ends_a_row(line: bytes) -> bool:
    """The line's text ends in a comma outside any comment (a `#` anywhere, even in a string, counts as one)."""
    return line.rstrip().endswith(b",") and b"#" not in line


def _row_end_after(data: bytes, position: int, tries: int) -> int | None:
    """The end (past its newline) of the first line holding or after `position` whose text ends in a comma
    outside any comment, within `tries` lines."""
    line_start = data.rfind(b"\n", 0, position) + 1
    for _ in range(tries):
        line_end = data.find(b"\n", line_start)
        if line_end < 0:
            return None
        if _ends_a_row(data[line_start:line_end]):
            return line_end + 1
        line_start = line_end + 1
    return None


async def _ruff_finds_nothing_in_all(inputs: Sequence[Sequence[bytes | memoryview]], timeout_s: float) -> bool:
    """Ruff on every input at once, each given as the chunks it is made of."""
    verdicts = await asyncio.gather(*(_ruff_finds_nothing_in(chunks, timeout_s) for chunks in inputs))
    return all(verdicts)


async def _ruff_finds_nothing_in(chunks: Sequence[bytes | memoryview], timeout_s: float) -> bool:
    # ruff reads its input and writes its errors at its own pace, from and to files, not pipes this loop serves
    with tempfile.TemporaryFile() as model, tempfile.TemporaryFile() as errors:
        for chunk in chunks:
            model.write(chunk)  # into the page cache: ~3 ms for 10 MB, less than handing it to a thread and back
        model.seek(0)
        try:
            # Popen, not the loop's subprocess_exec: under uvloop that forks the whole facade, 20-25 ms of
            # this loop's time per ruff (measured); Popen spawns with vfork, in under a millisecond.
            process = subprocess.Popen(ruff_command(), stdin=model, stdout=subprocess.DEVNULL, stderr=errors)
        except OSError as exc:
            log.warning("ruff could not start (%s); CPython checks this model alone", exc)
            return False
        try:
            await asyncio.wait_for(exited(process), timeout_s)
        except TimeoutError:
            log.warning("ruff took over %.0f s; CPython checks this model alone", timeout_s)
            return False
        finally:
            if process.returncode is None:  # timed out, or the upload was refused meanwhile
                process.kill()
                await asyncio.shield(exited(process))
        if process.returncode not in (0, 1):  # 1: it found something; anything else: ruff itself failed
            errors.seek(0)
            log.warning("ruff failed (exit %s: %s); CPython checks this model alone", process.returncode,
                        errors.read()[-500:].decode(errors="replace"))
        return process.returncode == 0


async def exited(process: subprocess.Popen) -> int:
    """The exit status of `process`, awaited on a pidfd (readable once it has exited): no thread waits."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux 5.3 or later: a thread waits instead
        return await asyncio.to_thread(process.wait)
    try:
        gone = loop.create_future()
        loop.add_reader(pidfd, lambda: gone.done() or gone.set_result(None))
        try:
            await gone
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)
    return process.wait()  # it has exited: this reaps it at once


def compile_model(data: bytes, filename: str) -> CodeType:
    """What the flow does before it runs a model (the bytes, so a BOM or coding line counts as it will there)."""
    return compile(data, filename, "exec", dont_inherit=True)
