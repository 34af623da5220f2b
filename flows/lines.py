"""The one place that numbers a job's lines.

Each line a model prints (and each line the flow says itself, stream
"system") gets the next seq of its job, then goes to every sink in that
order: the per-run log file, Prefect's run logs (the first PREFECT_LOG_CAP_BYTES),
and the facade.

Log cap: once a run's model lines pass `max_log_bytes`, further model lines get
no seq and reach no sink; one WARNING line says so. They are still read for
reports (`::optbox …`) and the stderr tail, so the run's outcome stays right.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO

import orjson

from optbox.protocol import LogLevel, LogLine, Report, Stream, format_log_line, parse_level, parse_report

# Prefect's run logs are for following a run in its UI, not its archive: a flood there would
# slow the Prefect server (and every flow) down; optbox's own log keeps every line up to the run's cap.
PREFECT_LOG_CAP_BYTES = 8 * 1024 * 1024
_PY_LEVEL = {LogLevel.DEBUG: logging.DEBUG, LogLevel.INFO: logging.INFO, LogLevel.WARNING: logging.WARNING, LogLevel.ERROR: logging.ERROR}


class PrefectRunLog:
    """A flow run's model lines into Prefect's run logs (logger name `optbox.model`).

    Each line goes as a ready `LogCreate` JSON straight onto Prefect's own batching
    `APILogWorker`, the queue its `APILogHandler` feeds. Profiled, going through
    `logging` and the handler (a LogRecord, the run-context lookup, a pydantic model
    per line) was 85 % of what a line cost the flow; this is the same record for a
    fraction of it. The keys are exactly the server's `LogCreate` (it refuses unknown
    ones, and with them the whole batch).

    Up to LINES_PER_S lines a second go one record per line. Past that, lines wait and go
    every HOLD_S as one multi-line record (in order, none dropped): ten models printing
    1,000 lines a second made Prefect's SQLite answer 503 to everything else, runs'
    state changes included. optbox's JobLog keeps every line as its own row either way.
    Call `flush()` when the run ends. Lines over Prefect's size limit are cut, as its
    handler cuts them.
    """

    NAME = "optbox.model"
    LINES_PER_S = 200
    HOLD_S = 0.5

    def __init__(self, flow_run_id: str) -> None:
        from prefect.logging.handlers import APILogWorker
        from prefect.settings import PREFECT_LOGGING_TO_API_MAX_LOG_SIZE, get_current_settings

        self._enabled = get_current_settings().logging.to_api.enabled
        self._worker = APILogWorker.instance()
        self._flow_run_id = flow_run_id
        self._max_bytes = PREFECT_LOGGING_TO_API_MAX_LOG_SIZE.value()
        self._sent_bytes = 0
        self._tokens = float(self.LINES_PER_S)
        self._refilled = time.monotonic()
        self._held: list[LogLine] = []
        self._timer: asyncio.TimerHandle | None = None

    def send(self, line: LogLine) -> None:
        if not self._enabled or self._sent_bytes > PREFECT_LOG_CAP_BYTES:
            return
        self._sent_bytes += len(line.message) + 1
        if self._sent_bytes > PREFECT_LOG_CAP_BYTES:
            self._held.append(line)
            self.flush()
            self._send(logging.WARNING, f"this run's log passed {PREFECT_LOG_CAP_BYTES >> 20} MB: further lines are in optbox's log only",
                       datetime.now(UTC))
            return
        now = time.monotonic()
        self._tokens = min(float(self.LINES_PER_S), self._tokens + (now - self._refilled) * self.LINES_PER_S)
        self._refilled = now
        if not self._held and self._tokens >= 1:
            self._tokens -= 1
            self._send(_PY_LEVEL[line.level], line.message, line.timestamp)
            return
        self._held.append(line)  # behind held lines, a line waits its turn: order is kept
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.HOLD_S, self.flush)

    def flush(self) -> None:
        """Send the held lines now, as few records as Prefect's size limit allows."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held, self._held = self._held, []
        chunk: list[LogLine] = []
        size = 0
        for line in held:
            if chunk and size + len(line.message) * 4 + 1 > self._max_bytes - 1024:
                self._send_chunk(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line.message) * 4 + 1
        if chunk:
            self._send_chunk(chunk)

    def _send_chunk(self, chunk: list[LogLine]) -> None:
        level = max(_PY_LEVEL[line.level] for line in chunk)
        self._send(level, "\n".join(line.message for line in chunk), chunk[0].timestamp)

    def _send(self, level: int, message: str, timestamp: datetime) -> None:
        record = {"name": self.NAME, "level": level, "message": message,
                  "timestamp": timestamp.isoformat(), "flow_run_id": self._flow_run_id, "task_run_id": None}
        payload = orjson.dumps(record)
        if len(payload) > self._max_bytes:
            encoded = message.encode()
            keep = len(encoded)
            while len(payload) > self._max_bytes and keep > 0:  # JSON escapes can make a cut still too long
                keep = max(keep - (len(payload) - self._max_bytes) - 50, 0)
                record["message"] = encoded[:keep].decode(errors="ignore") + "... [truncated]"
                payload = orjson.dumps(record)
        self._worker.send(payload)


class LineSequencer:
    def __init__(
        self, *, first_seq: int, log_file: IO[str], prefect_log: Callable[[LogLine], None] | None,
        ship: Callable[[LogLine], None], max_log_bytes: int | None = None,
    ) -> None:
        self.next_seq = first_seq
        self._log_file = log_file
        self._prefect_log = prefect_log
        self._ship = ship
        self.report = Report()
        self.stderr_tail: list[str] = []
        self.max_log_bytes = max_log_bytes
        self.model_bytes = 0
        self.dropped_lines = 0

    def emit(self, stream: Stream, message: str, level: LogLevel | None = None) -> LogLine | None:
        report = parse_report(message) if stream != Stream.system else None
        if stream != Stream.system and not self._within_cap(message):
            if report:
                self.report = report.merged_into(self.report)
            if stream == Stream.stderr:
                self.stderr_tail = (self.stderr_tail + [message])[-20:]
            return None
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

    @property
    def capped(self) -> bool:
        return self.dropped_lines > 0

    def count_dropped(self, count: int) -> None:
        """Lines past the cap that the reader skipped unread (they carried no report)."""
        self.dropped_lines += count

    def _within_cap(self, message: str) -> bool:
        """Counts the line; False once the cap is passed (the first time, says so in one line)."""
        if self.max_log_bytes is None:
            return True
        if self.dropped_lines:
            self.dropped_lines += 1
            return False
        self.model_bytes += len(message) + 1
        if self.model_bytes <= self.max_log_bytes:
            return True
        self.dropped_lines = 1
        self.system(f"log cap of {self.max_log_bytes / 1024 / 1024:g} MB reached: later lines of this run are not stored "
                    "(the model keeps running; reports and the stderr tail are still read)", LogLevel.WARNING)
        return False

    def system(self, message: str, level: LogLevel = LogLevel.INFO) -> LogLine:
        line = self.emit(Stream.system, message, level)
        assert line is not None  # the flow's own lines are never capped
        return line

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1
