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

from optbox.protocol import LogLevel, LogLine, Report, Stream, format_log_line, parse_level, parse_report

_PY_LEVEL = {LogLevel.DEBUG: logging.DEBUG, LogLevel.INFO: logging.INFO, LogLevel.WARNING: logging.WARNING, LogLevel.ERROR: logging.ERROR}


class LineSequencer:
    def __init__(
        self, *, first_seq: int, log_file: IO[str], prefect_logger: logging.LoggerAdapter | None,
        ship: Callable[[LogLine], None],
    ) -> None:
        self.next_seq = first_seq
        self._log_file = log_file
        self._prefect_logger = prefect_logger
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
        if self._prefect_logger is not None:
            self._prefect_logger.log(_PY_LEVEL[line.level], message)
        self._ship(line)
        return line

    def system(self, message: str, level: LogLevel = LogLevel.INFO) -> LogLine:
        return self.emit(Stream.system, message, level)

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1
