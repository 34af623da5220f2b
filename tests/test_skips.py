"""The suite's own rule: a skip fails unless declared (tests/skips.py)."""

from __future__ import annotations

import subprocess
import sys

from harness.stack import PROJECT_DIR

MODULE = '''import pytest

def test_without_its_service():
    pytest.skip("no service at 127.0.0.1:1")

@pytest.mark.expected_skip("only where the host has no such thing")
def test_declared():
    pytest.skip("declared")
'''


def test_an_undeclared_skip_fails_with_its_reason_and_a_declared_one_skips(tmp_path):
    (tmp_path / "test_module.py").write_text(MODULE)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.skips", "-p", "no:cacheprovider", "-p", "no:randomly",
                             "--rootdir", str(tmp_path), str(tmp_path)], capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 skipped" in result.stdout
    assert "skipped without being declared an expected skip: Skipped: no service at 127.0.0.1:1" in result.stdout
