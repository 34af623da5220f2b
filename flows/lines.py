"""The one place that numbers a job's lines.

Each line a model prints (and each line the flow says itself, stream
"system") gets the next seq of its job, then goes to every sink in that
order: the per-run log file, Prefect's run logs, and the facade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO

import orjson

from optbox.protocol import LogLevel, LogLine, Report, Stream, format_log_line, parse_level, parse_report

_PY_LEVEL = {LogLevel.DEBUG: logging.DEBUG, LogLevel.INFO: logging.INFO, LogLevel.WARNING: logging.WARNING, LogLevel.ERROR: logging.ERROR}


class PrefectRunLog:
    """A flow run's model lines into Prefect's run logs (logger name `optbox.model`).

    Each line goes as a ready `LogCreate` JSON straight onto Prefect's own batching
    `APILogWorker`, the queue its `APILogHandler` feeds. Profiled, going through
    `logging` and the handler (a LogRecord, the run-context lookup, a pydantic model
    per line) was 85 % of what a line cost the flow; this is the same record for a
    fraction of it. Lines over Prefect's size limit are cut, as the handler cuts them. The keys
    are exactly the server's `LogCreate` (it refuses unknown ones, and with them the whole batch).
    """

    NAME = "optbox.model"

    def __init__(self, flow_run_id: str) -> None:
        from prefect.logging.handlers import APILogWorker
        from prefect.settings import PREFECT_LOGGING_TO_API_MAX_LOG_SIZE, get_current_settings

        self._enabled = get_current_settings().logging.to_api.enabled
        self._worker = APILogWorker.instance()
        self._flow_run_id = flow_run_id
        self._max_bytes = PREFECT_LOGGING_TO_API_MAX_LOG_SIZE.value()

    def send(self, line: LogLine) -> None:
        if not self._enabled:
            return
        record = {"name": self.NAME, "level": _PY_LEVEL[line.level], "message": line.message,
                  "timestamp": line.timestamp.isoformat(), "flow_run_id": self._flow_run_id, "task_run_id": None}
        payload = orjson.dumps(record)
        if len(payload) > self._max_bytes:
            encoded = line.message.encode()
            keep = len(encoded)
            while len(payload) > self._max_bytes and keep > 0:  # JSON escapes can make a cut still too long
                keep = max(keep - (len(payload) - self._max_bytes) - 50, 0)
                record["message"] = encoded[:keep].decode(errors="ignore") + "... [truncated]"
                payload = orjson.dumps(record)
        self._worker.send(payload)


class LineSequencer:
    def __init__(
        self, *, first_seq: int, log_file: IO[str], prefect_log: Callable[[LogLine], None] | None,
        ship: Callable[[LogLine], None],
    ) -> None:
        self.next_seq = first_seq
        self._log_file = log_file
        self._prefect_log = prefect_log
        self._ship = ship
        self.report = Report()
        self.stderr_tail: list[str] = []

    def emit(self, stream: Stream, message: str, level: LogLevel | None = None) -> LogLine:
        report = parse_report(message) if stream != Stream.system else None
        line = LogLine(
            seq=self.next_seq, timestamp=datetime.now(UTC), stream=stream, message=message,
            level=level or parse_level(message, stream), report=report,
        )
        self.next_seq += 1
        if report:
            self.report = report.merged_into(self.report)
        if stream == Stream.stderr:
            self.stderr_tail = (self.stderr_tail + [message])[-20:]
        self._log_file.write(format_log_line(line.timestamp, line.seq, line.level.value, line.stream.value, message))
        if self._prefect_log is not None:
            self._prefect_log(line)
        self._ship(line)
        return line

    def system(self, message: str, level: LogLevel = LogLevel.INFO) -> LogLine:
        return self.emit(Stream.system, message, level)

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1
