"""NodeUnschedulable, table-driven: a cordoned node, and the events that end the wait."""
import pytest

from kfs.scheduler import events
from kfs.scheduler.events import QUEUE, QUEUE_SKIP
from kfs.scheduler.framework import UNRESOLVABLE
from kfs.scheduler.plugins.node_unschedulable import NodeUnschedulable
from tests.unit.scheduler_objects import OK, node, node_info, pod, requeue_hint, verdict

UNSCHEDULABLE_NODE = (UNRESOLVABLE, ["node(s) were unschedulable"])


@pytest.mark.parametrize("what, p, n, expected", [
    ("a schedulable node takes the pod", pod(), node(), OK),
    ("a cordoned node refuses it", pod(), node(unschedulable=True), UNSCHEDULABLE_NODE),
    ("unless the pod tolerates the unschedulable taint",
     pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                       "effect": "NoSchedule"}]), node(unschedulable=True), OK),
    ("a toleration of everything counts too", pod(tolerations=[{"operator": "Exists"}]),
     node(unschedulable=True), OK),
])
def test_node_unschedulable(what, p, n, expected):
    assert verdict(NodeUnschedulable().filter(p, node_info(n))) == expected, what


CORDONED, UNCORDONED = node(unschedulable=True), node()


@pytest.mark.parametrize("what, event, old, new, expected", [
    ("a new schedulable node", events.NODE_ADD, None, UNCORDONED, QUEUE),
    ("a new cordoned node", events.NODE_ADD, None, CORDONED, QUEUE_SKIP),
    ("the node uncordoned", events.NODE_SPEC_UNSCHEDULABLE_CHANGE, CORDONED, UNCORDONED, QUEUE),
    ("a taint change on a node still cordoned", events.NODE_TAINT_CHANGE, CORDONED,
     node(unschedulable=True, taints=[{"key": "a", "effect": "NoSchedule"}]), QUEUE_SKIP),
    ("a label change is no concern of it", events.NODE_LABEL_CHANGE, CORDONED, UNCORDONED, None),
    ("nor is a bound pod deleted", events.ASSIGNED_POD_DELETE, pod(node_name="node1"), None,
     None),
])
def test_node_unschedulable_wakes_a_pod_when_a_node_it_may_use_appears(what, event, old,
                                                                        new, expected):
    assert requeue_hint(NodeUnschedulable(), event, pod(), old, new) == expected, what
