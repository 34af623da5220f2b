"""The model subprocess: every line, in order, whatever the model writes; timeouts kill it."""

import os
import signal
import sys

from flows.model_process import CUT_MARKER, MAX_LINE_BYTES, Bulk, ModelExit, run_model_process
from optbox.protocol import Stream


async def run(tmp_path, source: str, **options) -> tuple[ModelExit, list[tuple[Stream, str]]]:
    (tmp_path / "m.py").write_text(source)
    lines: list[tuple[Stream, str]] = []
    exited = await run_model_process([sys.executable, "-u", "m.py"], env={"PYTHONUNBUFFERED": "1"}, cwd=tmp_path,
                                     on_line=lambda stream, message: lines.append((stream, message)), **options)
    return exited, lines


async def test_keeps_every_line_of_each_stream_in_order(tmp_path):
    exited, lines = await run(tmp_path, "import sys\nfor i in range(20000):\n    print(i)\n    if i % 1000 == 0: print('e', i, file=sys.stderr)\n")
    assert exited == ModelExit(exit_code=0)
    assert [int(m) for s, m in lines if s == Stream.stdout] == list(range(20000))
    assert [m for s, m in lines if s == Stream.stderr] == [f"e {i}" for i in range(0, 20000, 1000)]


async def test_cuts_an_overlong_line_with_a_marker_and_goes_on(tmp_path):
    exited, lines = await run(tmp_path, f"print('x' * {3 * MAX_LINE_BYTES})\nprint('after')\n")
    assert exited.exit_code == 0
    assert lines[0][1] == "x" * MAX_LINE_BYTES + CUT_MARKER.format(n=MAX_LINE_BYTES)
    assert [m for _, m in lines[1:]] == ["after"]


async def test_a_line_split_across_many_reads_is_joined(tmp_path):
    source = "import sys, time\nfor part in ('ab', 'cd', 'ef\\ngh'):\n    sys.stdout.write(part); sys.stdout.flush(); time.sleep(0.05)\n"
    exited, lines = await run(tmp_path, source)
    assert [m for _, m in lines] == ["abcdef", "gh"]


async def test_binary_garbage_and_a_missing_final_newline_are_kept_decoded(tmp_path):
    exited, lines = await run(tmp_path, "import sys\nsys.stdout.buffer.write(b'ok\\n\\xff\\xfe\\x00bin\\r\\nlast')\n")
    assert exited.exit_code == 0
    assert [m for _, m in lines] == ["ok", "\ufffd\ufffd\x00bin", "last"]


async def test_reports_the_exit_code_and_the_signal(tmp_path):
    assert (await run(tmp_path, "raise SystemExit(3)"))[0].exit_code == 3
    assert (await run(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))[0].exit_code == -9


async def test_a_model_past_its_timeout_is_killed_and_says_so(tmp_path):
    exited, lines = await run(tmp_path, "import time\nprint('started')\ntime.sleep(60)\n", timeout_s=5)  # ample for a start on a busy machine
    assert exited.timed_out and exited.exit_code == -9
    assert [m for _, m in lines] == ["started"]


async def test_a_child_left_holding_the_pipes_does_not_keep_the_run_waiting(tmp_path):
    source = ("import subprocess, sys\nchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'], start_new_session=True)\n"
              "print('child', child.pid)\n")
    lines: list[tuple[Stream, str]] = []

    def kill_tree() -> None:  # what the run's cgroup does: end whatever the model left behind
        os.kill(int(next(m for _, m in lines if m.startswith("child "))[6:]), signal.SIGKILL)

    (tmp_path / "m.py").write_text(source)
    exited = await run_model_process([sys.executable, "-u", "m.py"], env={}, cwd=tmp_path,
                                     on_line=lambda stream, message: lines.append((stream, message)), kill_tree=kill_tree)
    assert exited == ModelExit(exit_code=0) and lines[0][1].startswith("child ")


async def test_past_the_cap_a_flood_is_counted_unread_but_report_lines_still_arrive(tmp_path):
    dropped = []
    source = ("import sys\nfor i in range(200000):\n    sys.stdout.write('flood line %d\\n' % i)\n"
              "print('::optbox {\"objective_value\": 5}')\nprint('tail')\n")
    exited, lines = await run(tmp_path, source, bulk=Bulk(dropping=lambda: True, dropped=dropped.append))
    assert exited.exit_code == 0
    received = [m for _, m in lines]
    assert '::optbox {"objective_value": 5}' in received
    assert sum(dropped) + len(received) == 200002 and sum(dropped) > 150000


async def test_lines_still_in_the_pipe_when_the_model_exits_arrive_however_long_the_caller_holds_reading(tmp_path, monkeypatch):
    """The caller's backlog is full (`room` holds the reading) while the model writes its last lines and exits: those
    lines wait in the pipe, and the drain after exit must not give up on them (it is bounded only for processes
    that hold the pipes open, not for the caller's own backpressure)."""
    import asyncio

    import flows.model_process as model_process

    monkeypatch.setattr(model_process, "DRAIN_S", 0.2)
    # 100-byte lines; the hold starts when less than a pipe's worth (64 KiB) is left to write
    count, held_from = 20_000, 19_500
    lines: list[str] = []
    released = asyncio.Event()

    async def room() -> None:
        if len(lines) >= held_from and not released.is_set():
            asyncio.get_running_loop().call_later(1.5, released.set)  # well past two drains
            await released.wait()

    (tmp_path / "m.py").write_text(f"for i in range({count}):\n    print(f'{{i:>99}}')\n")
    exited = await run_model_process([sys.executable, "m.py"], env={}, cwd=tmp_path, room=room,
                                     on_line=lambda stream, message: lines.append(message))
    assert exited.exit_code == 0
    assert [int(m) for m in lines] == list(range(count))
