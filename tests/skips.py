"""No silent skips: a test that skips fails instead, naming its reason, unless it is marked
`@pytest.mark.expected_skip("why skipping is right here")`. A missing service or privilege is then a
one-line failure (the Makefile's test setup provides what the suite needs), never a green run that
tested less than it says."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "expected_skip(reason): this test may skip; say why that is right")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("expected_skip") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped without being declared an expected skip: {reason}"
    return report
