"""The model-author protocol: levels and reports parsed from printed lines."""

import pytest

from optbox.protocol import LogLevel, Report, Stream, parse_level, parse_report


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
