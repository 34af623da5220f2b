"""Model lines into Prefect's run logs: each record is what Prefect's server accepts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from prefect.logging.handlers import APILogWorker
from prefect.server.schemas.actions import LogCreate

from flows.lines import PrefectRunLog
from optbox.protocol import LogLevel, LogLine, Stream


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
