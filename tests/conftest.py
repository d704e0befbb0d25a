"""Fixtures shared by the test tiers.

The system tier runs on a lab of its own (``KFS_LAB``, default ``kfst`` on
192.168.57.0/24, set by the README's test command), so running the tests never touches an
attendee's lab ``kfs`` on 192.168.56.0/24.
"""
import os

import pytest

from kfs.util import wait_for  # noqa: F401  (re-exported for the tests)

TEST_LAB = os.environ.get("KFS_LAB", "kfst")
TEST_SUBNET = os.environ.get("KFS_LAB_SUBNET", "192.168.57.0/24")


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, iptables, dockerd)")


@pytest.fixture(scope="session")
def lab():
    """The test lab with two nodes at stage `machines`, removed at the end of the session."""
    needs_root()
    from kfs.lab.lab import Lab
    lab = Lab(name=TEST_LAB, subnet=TEST_SUBNET)
    lab.up(nodes=2, stage="machines", progress=lambda msg: None)
    yield lab
    if not os.environ.get("KFS_KEEP_LAB"):  # set it to look at a failed run's lab and logs
        Lab(name=TEST_LAB).down(progress=lambda msg: None)
