"""The model subprocess: every line, in order, whatever the model writes."""

import sys

from flows.model_process import CUT_MARKER, MAX_LINE_BYTES, run_model_process
from optbox.protocol import Stream


async def run(tmp_path, source: str) -> tuple[int, list[tuple[Stream, str]]]:
    (tmp_path / "m.py").write_text(source)
    lines: list[tuple[Stream, str]] = []
    code = await run_model_process([sys.executable, "-u", "m.py"], env={"PYTHONUNBUFFERED": "1"}, cwd=tmp_path,
                                   on_line=lambda stream, message: lines.append((stream, message)))
    return code, lines


async def test_keeps_every_line_of_each_stream_in_order(tmp_path):
    code, lines = await run(tmp_path, "import sys\nfor i in range(20000):\n    print(i)\n    if i % 1000 == 0: print('e', i, file=sys.stderr)\n")
    assert code == 0
    assert [int(m) for s, m in lines if s == Stream.stdout] == list(range(20000))
    assert [m for s, m in lines if s == Stream.stderr] == [f"e {i}" for i in range(0, 20000, 1000)]


async def test_cuts_an_overlong_line_with_a_marker_and_goes_on(tmp_path):
    code, lines = await run(tmp_path, f"print('x' * {3 * MAX_LINE_BYTES})\nprint('after')\n")
    assert code == 0
    assert lines[0][1] == "x" * MAX_LINE_BYTES + CUT_MARKER.format(n=MAX_LINE_BYTES)
    assert [m for _, m in lines[1:]] == ["after"]


async def test_binary_garbage_and_a_missing_final_newline_are_kept_decoded(tmp_path):
    code, lines = await run(tmp_path, "import sys\nsys.stdout.buffer.write(b'ok\\n\\xff\\xfe\\x00bin\\r\\nlast')\n")
    assert code == 0
    assert [m for _, m in lines] == ["ok", "\ufffd\ufffd\x00bin", "last"]


async def test_reports_the_exit_code_and_the_signal(tmp_path):
    assert (await run(tmp_path, "raise SystemExit(3)"))[0] == 3
    assert (await run(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))[0] == -9
