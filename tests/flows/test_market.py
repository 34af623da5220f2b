"""What a run hands the facade at its end."""

from __future__ import annotations

from flows.market import log_artifact


def test_a_log_file_over_the_upload_limit_is_uploaded_cut_at_a_line_end_and_says_so(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("".join(f"line {i:04d}\n" for i in range(1000)))  # 10 bytes a line
    assert log_artifact(log, limit=10_000) == log.read_bytes()
    cut = log_artifact(log, limit=995).decode().splitlines()
    assert cut[:-1] == [f"line {i:04d}" for i in range(99)] and "cut at" in cut[-1] and "has every line" in cut[-1]
