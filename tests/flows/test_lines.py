"""Line numbering and the per-run log cap."""

import io

from flows.lines import LineSequencer
from optbox.protocol import LogLevel, Stream


def test_past_the_cap_lines_get_no_seq_one_notice_and_reports_still_count():
    shipped = []
    lines = LineSequencer(first_seq=1, log_file=io.StringIO(), prefect_logger=None, ship=shipped.append, max_log_bytes=100)
    for i in range(50):
        lines.emit(Stream.stdout, f"line {i:03d} " + "x" * 10)
    lines.emit(Stream.stdout, '::optbox {"objective_value": 7}')
    lines.emit(Stream.stderr, "last words")
    lines.system("model exited")
    notices = [line for line in shipped if "log cap" in line.message]
    assert len(notices) == 1 and notices[0].level == LogLevel.WARNING
    assert [line.seq for line in shipped] == list(range(1, len(shipped) + 1))
    assert sum(len(line.message) + 1 for line in shipped if line.stream == Stream.stdout) <= 100
    assert shipped[-1].message == "model exited"
    assert lines.report.objective_value == 7 and lines.stderr_tail == ["last words"]
    assert lines.dropped_lines == 50 + 2 - sum(line.stream == Stream.stdout for line in shipped)
