"""NodeName, table-driven: a pod naming a node, and the one event that ends the wait."""
import pytest

from kfs.scheduler import events
from kfs.scheduler.events import QUEUE
from kfs.scheduler.framework import UNRESOLVABLE
from kfs.scheduler.plugins.node_name import NodeName
from tests.unit.scheduler_objects import OK, node, node_info, pod, requeue_hint, verdict


@pytest.mark.parametrize("what, p, expected", [
    ("a pod naming no node fits any node", pod(), OK),
    ("a pod naming this node fits it", pod(node_name="node1"), OK),
    ("a pod naming another node does not",
     pod(node_name="node2"), (UNRESOLVABLE, ["node(s) didn't match the requested node name"])),
])
def test_node_name(what, p, expected):
    assert verdict(NodeName().filter(p, node_info(node("node1")))) == expected, what


@pytest.mark.parametrize("what, event, old, new, expected", [
    ("a new node is always worth a try (no hint)", events.NODE_ADD, None, node("node9"),
     QUEUE),
    ("a node's labels changing is not", events.NODE_LABEL_CHANGE, node(), node(), None),
    ("nor a bound pod deleted", events.ASSIGNED_POD_DELETE, pod(node_name="node1"), None, None),
])
def test_node_name_is_woken_by_new_nodes_only(what, event, old, new, expected):
    assert requeue_hint(NodeName(), event, pod(node_name="node9"), old, new) == expected, what
