"""Line numbering, the per-run log cap, and model lines into Prefect's run logs (records its server accepts)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import orjson
from prefect.logging.handlers import APILogWorker
from prefect.server.schemas.actions import LogCreate

from flows import lines as lines_module
from flows.lines import LineSequencer, PrefectRunLog
from optbox.protocol import LogLevel, LogLine, Stream


def test_past_the_cap_lines_get_no_seq_one_notice_and_reports_still_count():
    shipped = []
    lines = LineSequencer(first_seq=1, log_file=io.StringIO(), prefect_log=None, ship=shipped.append, max_log_bytes=100)
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


class Queue:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, item: bytes) -> None:
        self.sent.append(item)


def _records(monkeypatch, *lines: LogLine) -> list[dict]:
    queue = Queue()
    monkeypatch.setattr(APILogWorker, "instance", classmethod(lambda cls, *args: queue))
    sink = PrefectRunLog(str(uuid.uuid4()))
    for line in lines:
        sink.send(line)
    return [orjson.loads(item) for item in queue.sent]


def _line(message: str, level: LogLevel = LogLevel.INFO) -> LogLine:
    return LogLine(seq=1, timestamp=datetime.now(UTC), level=level, stream=Stream.stdout, message=message)


def test_each_line_is_a_log_prefects_server_accepts_with_its_level(monkeypatch):
    records = _records(monkeypatch, _line("Objective value: 12.5"), _line("solver: infeasible", LogLevel.ERROR))
    logs = [LogCreate.model_validate(record) for record in records]  # the server refuses unknown keys
    assert [(log.name, log.level, log.message) for log in logs] == [("optbox.model", 20, "Objective value: 12.5"),
                                                                      ("optbox.model", 40, "solver: infeasible")]


def test_a_line_over_prefects_size_limit_is_cut_not_dropped(monkeypatch):
    from prefect.settings import PREFECT_LOGGING_TO_API_MAX_LOG_SIZE

    [record] = _records(monkeypatch, _line("é" * PREFECT_LOGGING_TO_API_MAX_LOG_SIZE.value()))
    assert len(orjson.dumps(record)) <= PREFECT_LOGGING_TO_API_MAX_LOG_SIZE.value()
    assert record["message"].startswith("éé") and record["message"].endswith("... [truncated]")


def test_prefects_copy_stops_after_its_cap_with_one_warning(monkeypatch):
    monkeypatch.setattr(lines_module, "PREFECT_LOG_CAP_BYTES", 100)
    records = _records(monkeypatch, *(_line(f"line {i:02d} " + "x" * 20) for i in range(10)))
    warnings = [record for record in records if record["level"] == 30]
    assert len(warnings) == 1 and "further lines are in optbox's log only" in warnings[0]["message"]
    assert records[-1] is warnings[0] and 3 <= len(records) - 1 < 10


async def test_past_its_rate_lines_go_in_order_as_multi_line_records_and_none_is_dropped(monkeypatch):
    messages = [f"tick {i}" for i in range(1, 1001)]
    queue = Queue()
    monkeypatch.setattr(APILogWorker, "instance", classmethod(lambda cls, *args: queue))
    sink = PrefectRunLog(str(uuid.uuid4()))
    for message in messages:
        sink.send(_line(message))
    sink.flush()  # what the flow does when the run ends
    records = [orjson.loads(item) for item in queue.sent]
    assert len(records) < len(messages)  # Prefect got fewer rows, not fewer lines
    assert [line for record in records for line in record["message"].split("\n")] == messages
    for record in records:
        LogCreate.model_validate(record)
