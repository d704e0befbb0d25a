"""NodeResourcesLeastAllocated, table-driven: the share of a node left free, 0..100."""
import pytest

from kfs.scheduler.plugins.least_allocated import NodeResourcesLeastAllocated
from tests.unit.scheduler_objects import node, node_info, pod


@pytest.mark.parametrize("what, existing, wanted, n, expected", [
    ("an empty node scores high", [], pod(cpu="1", memory="1Gi"), node(cpu="4", memory="4Gi"),
     75),  # cpu (4-1)/4 = 75, memory (4-1)/4 = 75
    ("cpu and memory average", [], pod(cpu="2", memory="1Gi"), node(cpu="4", memory="4Gi"),
     62),  # (50 + 75) / 2, integer division as upstream
    ("a busier node scores lower", [pod(cpu="2", memory="2Gi")], pod(cpu="1", memory="1Gi"),
     node(cpu="4", memory="4Gi"), 25),
    ("request-less pods count 100m and 200Mi", [], pod(), node(cpu="1", memory="1000Mi"),
     85),  # cpu 90, memory 80
    ("over capacity scores 0", [], pod(cpu="8", memory="8Gi"), node(cpu="4", memory="4Gi"), 0),
])
def test_least_allocated(what, existing, wanted, n, expected):
    assert NodeResourcesLeastAllocated().score(wanted, node_info(n, *existing)) == expected, \
        what


def test_a_score_registers_no_events_it_never_rejects_a_pod():
    assert NodeResourcesLeastAllocated().events_to_register() == []
