"""NodeResourcesFit, table-driven: requests against what a node has left, and the events
that may give a pod room."""
import pytest

from kfs.scheduler import events
from kfs.scheduler.events import QUEUE, QUEUE_SKIP
from kfs.scheduler.framework import UNSCHEDULABLE
from kfs.scheduler.plugins.node_resources_fit import NodeResourcesFit
from tests.unit.scheduler_objects import OK, node, node_info, pod, requeue_hint, verdict


@pytest.mark.parametrize("what, existing, wanted, n, expected", [
    ("fits in an empty node", [], pod(cpu="1", memory="1Gi"), node(), OK),
    ("fits exactly", [pod(cpu="1")], pod(cpu="1"), node(cpu="2"), OK),
    ("cpu left is too little", [pod(cpu="1500m")], pod(cpu="600m"), node(cpu="2"),
     (UNSCHEDULABLE, ["Insufficient cpu"])),
    ("memory too", [pod(memory="3Gi")], pod(memory="2Gi"), node(memory="4Gi"),
     (UNSCHEDULABLE, ["Insufficient memory"])),
    ("both at once are two reasons", [], pod(cpu="3", memory="5Gi"), node(),
     (UNSCHEDULABLE, ["Insufficient cpu", "Insufficient memory"])),
    ("a pod asking for nothing always fits the resources", [pod(cpu="2")], pod(), node(cpu="2"),
     OK),
    ("the pod count is a limit too", [pod(), pod()], pod(), node(pods=2),
     (UNSCHEDULABLE, ["Too many pods"])),
])
def test_node_resources_fit(what, existing, wanted, n, expected):
    got = NodeResourcesFit().filter(wanted, node_info(n, *existing))
    assert verdict(got) == expected, what


def test_a_limit_without_a_request_counts_as_the_request():
    p = pod()
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "3"}}
    assert verdict(NodeResourcesFit().filter(p, node_info(node(cpu="2")))) == (
        UNSCHEDULABLE, ["Insufficient cpu"])


def test_init_containers_count_by_the_largest_not_the_sum():
    p = pod(cpu="500m")
    p["spec"]["initContainers"] = [{"name": "i1", "resources": {"requests": {"cpu": "1500m"}}},
                                   {"name": "i2", "resources": {"requests": {"cpu": "1"}}}]
    assert NodeResourcesFit().filter(p, node_info(node(cpu="1500m"))) is None
    assert NodeResourcesFit().filter(p, node_info(node(cpu="1400m"))) is not None


@pytest.mark.parametrize("what, event, old, new, expected", [
    ("a bound pod deleted gives resources back", events.ASSIGNED_POD_DELETE,
     pod(node_name="node1"), None, QUEUE),
    ("a pending pod deleted held none", events.ASSIGNED_POD_DELETE, pod(), None, QUEUE_SKIP),
    ("a new node big enough", events.NODE_ADD, None, node(cpu="4"), QUEUE),
    ("a new node too small even when empty", events.NODE_ADD, None, node(cpu="1"), QUEUE_SKIP),
    ("more cpu on a node", events.NODE_ALLOCATABLE_CHANGE, node(cpu="2"), node(cpu="4"),
     QUEUE),
    ("more memory, which the pod does not ask for", events.NODE_ALLOCATABLE_CHANGE,
     node(cpu="4", memory="4Gi"), node(cpu="4", memory="8Gi"), QUEUE_SKIP),
    ("more pods allowed", events.NODE_ALLOCATABLE_CHANGE, node(cpu="4", pods=1),
     node(cpu="4", pods=2), QUEUE),
    ("more cpu, still too little", events.NODE_ALLOCATABLE_CHANGE, node(cpu="1"),
     node(cpu="2"), QUEUE_SKIP),
    ("a label change gives no room", events.NODE_LABEL_CHANGE, node(), node(), None),
])
def test_node_resources_fit_wakes_a_pod_when_room_may_have_appeared(what, event, old, new,
                                                                    expected):
    p = pod(cpu="3")
    assert requeue_hint(NodeResourcesFit(), event, p, old, new) == expected, what
