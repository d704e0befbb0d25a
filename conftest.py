"""Test-run policy shared by every tier (tests/ and the notebooks under nbval).

Under CI (CI=true) nothing may be skipped for a missing dependency: `.ci/run` installs and
starts what the tests need, so a skip there means set-up is broken and counts as a failure.

A session that uses the test lab (the system and browser tiers, the notebooks) holds it
alone: two sessions on one lab bring it to different stages under each other's feet, and
both fail in ways that look like bugs. The second session stops at once, saying which
process holds the lab and how to use another (``KFS_LAB``, ``KFS_LAB_SUBNET``).
"""
import fcntl
import os
from pathlib import Path

import pytest

LAB_TIERS = ("tests/system/", "tests/browser/", "notebooks/")
_held = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


def pytest_collection_modifyitems(session, config, items):
    root = str(config.rootpath) + "/"
    if os.geteuid() == 0 and any(str(i.path).replace(root, "").startswith(LAB_TIERS)
                                 for i in items):
        hold_test_lab(os.environ.get("KFS_LAB", "kfst"))


def hold_test_lab(name):
    """Take the test lab for this session (an flock the kernel drops when we exit)."""
    path = Path("/run") / f"kfs-test-lab-{name}.lock"
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        pytest.exit(f"the test lab {name!r} is in use by {holder}: wait for it, or run this "
                    f"session on a lab of its own (KFS_LAB=<name> KFS_LAB_SUBNET=<a /24 of "
                    f"its own, e.g. 192.168.70.0/24>)", returncode=3)
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} ({' '.join(os.sys.argv)[:120]})\n")
    f.flush()
    _held.append(f)
