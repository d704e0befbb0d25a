"""Test-run policy shared by every tier (tests/ and the notebooks under nbval).

Under CI (CI=true) nothing may be skipped for a missing dependency: `.ci/run` installs and
starts what the tests need, so a skip there means set-up is broken and counts as a failure.
"""
import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"
