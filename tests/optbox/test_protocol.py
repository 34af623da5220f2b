"""The model-author protocol: levels and reports parsed from printed lines."""

import pytest
from pydantic import ValidationError

from optbox.protocol import LimitAboveServer, LogLevel, Report, RunLimits, Stream, parse_level, parse_report


@pytest.mark.parametrize(("line", "stream", "level"), [
    ("solving 96 blocks", Stream.stdout, LogLevel.INFO),
    ("solving 96 blocks", Stream.stderr, LogLevel.ERROR),
    ("WARNING: price gap in block 41", Stream.stdout, LogLevel.WARNING),
    ("ERROR infeasible", Stream.stdout, LogLevel.ERROR),
    ("[WARN] slow solve", Stream.stdout, LogLevel.WARNING),
    ("DEBUG: x = 3", Stream.stderr, LogLevel.DEBUG),
    ("INFO:root:loaded inputs", Stream.stderr, LogLevel.INFO),
    ("2026-11-28 10:00:00,123 - dmo - WARNING - ramp limit binding", Stream.stderr, LogLevel.WARNING),
    ("2026-11-28 10:00:00,123 - dmo - INFO - done", Stream.stderr, LogLevel.INFO),
    ("ERRORS are counted below", Stream.stdout, LogLevel.INFO),
    ("Traceback (most recent call last):", Stream.stderr, LogLevel.ERROR),
])
def test_a_line_carries_its_own_level_else_its_streams(line, stream, level):
    assert parse_level(line, stream) == level


def test_report_line_is_parsed_with_all_its_fields():
    report = parse_report('::optbox {"progress": 40, "objective_value": 12.5, "results_count": 96, "solver_time_ms": 3.5, "metrics": {"gap": 0}}')
    assert report == Report(progress=40, objective_value=12.5, results_count=96, solver_time_ms=3.5, metrics={"gap": 0})


@pytest.mark.parametrize("line", ["::optbox {not json", '::optbox {"progress": 140}', "::optbox [1, 2]", "progress 40"])
def test_a_malformed_report_is_a_plain_line(line):
    assert parse_report(line) is None


def test_the_seeds_plain_result_lines_still_report():
    assert parse_report("Objective value: -1234.5e2").objective_value == -123450.0
    assert parse_report("Results written: 96").results_count == 96


def test_later_reports_override_and_metrics_merge():
    first = Report(progress=10, metrics={"a": 1, "b": 2})
    merged = Report(progress=50, objective_value=3.0, metrics={"b": 3}).merged_into(first)
    assert merged == Report(progress=50, objective_value=3.0, metrics={"a": 1, "b": 3})


SERVER_LIMITS = RunLimits(timeout_s=3600, memory_mb=4096, max_procs=256, max_log_mb=200, network=False)


def test_limits_read_the_execute_bodys_camel_case_and_are_recorded_in_snake_case():
    asked = RunLimits.model_validate({"timeoutS": 120, "memoryMb": 512})
    resolved = asked.within(SERVER_LIMITS)
    assert resolved.model_dump() == {"timeout_s": 120, "memory_mb": 512, "max_procs": 256, "max_log_mb": 200, "network": False}
    # a retry reads the recorded limits back unchanged
    assert RunLimits.model_validate(resolved.model_dump()).within(SERVER_LIMITS) == resolved


def test_limits_above_the_servers_are_refused_naming_the_field_as_sent():
    with pytest.raises(LimitAboveServer) as refused:
        RunLimits.model_validate({"maxProcs": 1000}).within(SERVER_LIMITS)
    assert refused.value.field == "limits.maxProcs" and "at most 256" in str(refused.value)
    with pytest.raises(LimitAboveServer, match="network is off"):
        RunLimits(network=True).within(SERVER_LIMITS)


def test_limits_refuse_unknown_fields():
    with pytest.raises(ValidationError):
        RunLimits.model_validate({"cpuCores": 2})
