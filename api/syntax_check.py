"""A model's syntax: ruff's parser for a fast first opinion on big files, CPython's compile for the verdict.

CPython compiles a 10 MB model in 4-5 s on this machine; ruff's Rust parser reads it in about 0.3 s.
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
import sys
import tempfile
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
    with tempfile.TemporaryFile() as model:  # ruff reads it at its own pace, not through a pipe this loop feeds
        model.write(data)  # into the page cache: ~3 ms for 10 MB, less than handing it to a thread and back
        model.seek(0)
        try:
            process = await asyncio.create_subprocess_exec(*ruff_command(), stdin=model, stdout=asyncio.subprocess.DEVNULL,
                                                           stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            log.warning("ruff could not start (%s); CPython checks this model alone", exc)
            return False
        return await _verdict(process, timeout_s)


async def _verdict(process: asyncio.subprocess.Process, timeout_s: float) -> bool:
    try:
        _, errors = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        log.warning("ruff took over %.0f s; CPython checks this model alone", timeout_s)
        return False
    finally:
        if process.returncode is None:  # timed out, or the upload was refused meanwhile
            process.kill()
            await asyncio.shield(process.wait())
    if process.returncode not in (0, 1):  # 1: it found something; anything else: ruff itself failed
        log.warning("ruff failed (exit %s: %s); CPython checks this model alone", process.returncode, errors.decode(errors="replace")[-500:])
    return process.returncode == 0


def compile_model(data: bytes, filename: str) -> CodeType:
    """What the flow does before it runs a model (the bytes, so a BOM or coding line counts as it will there)."""
    return compile(data, filename, "exec", dont_inherit=True)
