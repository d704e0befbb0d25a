"""NodeAffinity, table-driven: nodeSelector and required affinity against a node's labels,
and the node changes that wake a pod it refused."""
import pytest

from kfs.scheduler import events
from kfs.scheduler.events import QUEUE, QUEUE_SKIP
from kfs.scheduler.framework import UNRESOLVABLE
from kfs.scheduler.plugins.node_affinity import NodeAffinity
from tests.unit.scheduler_objects import (OK, affinity, expr, node, node_info, pod,
                                          requeue_hint, verdict)

AFFINITY_MISS = (UNRESOLVABLE, ["node(s) didn't match Pod's node affinity/selector"])
LABELS = {"disk": "ssd", "zone": "a", "cores": "8"}


@pytest.mark.parametrize("what, selector, aff, expected", [
    ("no selector, no affinity", None, None, OK),
    ("nodeSelector matching every pair", {"disk": "ssd", "zone": "a"}, None, OK),
    ("nodeSelector with one pair wrong", {"disk": "ssd", "zone": "b"}, None, AFFINITY_MISS),
    ("nodeSelector on a missing label", {"gpu": "yes"}, None, AFFINITY_MISS),
    ("In", None, affinity({"matchExpressions": [expr("disk", "In", "hdd", "ssd")]}), OK),
    ("In missing the value", None, affinity({"matchExpressions": [expr("disk", "In", "hdd")]}),
     AFFINITY_MISS),
    ("NotIn", None, affinity({"matchExpressions": [expr("disk", "NotIn", "hdd")]}), OK),
    ("NotIn with the value", None, affinity({"matchExpressions": [expr("disk", "NotIn", "ssd")]}),
     AFFINITY_MISS),
    ("NotIn on an absent label holds", None,
     affinity({"matchExpressions": [expr("gpu", "NotIn", "yes")]}), OK),
    ("Exists", None, affinity({"matchExpressions": [expr("zone", "Exists")]}), OK),
    ("Exists on an absent label", None, affinity({"matchExpressions": [expr("gpu", "Exists")]}),
     AFFINITY_MISS),
    ("DoesNotExist", None, affinity({"matchExpressions": [expr("gpu", "DoesNotExist")]}), OK),
    ("DoesNotExist on a present label", None,
     affinity({"matchExpressions": [expr("zone", "DoesNotExist")]}), AFFINITY_MISS),
    ("Gt compares integers", None, affinity({"matchExpressions": [expr("cores", "Gt", "4")]}),
     OK),
    ("Gt fails when not greater", None,
     affinity({"matchExpressions": [expr("cores", "Gt", "8")]}), AFFINITY_MISS),
    ("Lt compares integers", None, affinity({"matchExpressions": [expr("cores", "Lt", "16")]}),
     OK),
    ("Lt on a non-integer label never matches", None,
     affinity({"matchExpressions": [expr("zone", "Lt", "16")]}), AFFINITY_MISS),
    ("expressions in one term are ANDed", None,
     affinity({"matchExpressions": [expr("disk", "In", "ssd"), expr("zone", "In", "b")]}),
     AFFINITY_MISS),
    ("terms are ORed", None,
     affinity({"matchExpressions": [expr("zone", "In", "b")]},
              {"matchExpressions": [expr("disk", "In", "ssd")]}), OK),
    ("matchFields on metadata.name", None,
     affinity({"matchFields": [expr("metadata.name", "In", "node1")]}), OK),
    ("matchFields naming another node", None,
     affinity({"matchFields": [expr("metadata.name", "In", "node2")]}), AFFINITY_MISS),
    ("an empty term matches nothing", None, affinity({}), AFFINITY_MISS),
    ("selector and affinity must both hold", {"disk": "hdd"},
     affinity({"matchExpressions": [expr("zone", "Exists")]}), AFFINITY_MISS),
])
def test_node_affinity(what, selector, aff, expected):
    p = pod(node_selector=selector, affinity=aff)
    assert verdict(NodeAffinity().filter(p, node_info(node(labels=LABELS)))) == expected, what


SSD = {"disk": "ssd"}


@pytest.mark.parametrize("what, event, old, new, expected", [
    ("a new node with the label", events.NODE_ADD, None, node(labels=SSD), QUEUE),
    ("a new node without it", events.NODE_ADD, None, node(), QUEUE_SKIP),
    ("the label added", events.NODE_LABEL_CHANGE, node(), node(labels=SSD), QUEUE),
    ("another label added", events.NODE_LABEL_CHANGE, node(), node(labels={"zone": "a"}),
     QUEUE_SKIP),
    ("a label added to a node that matched already", events.NODE_LABEL_CHANGE,
     node(labels=SSD), node(labels={**SSD, "zone": "a"}), QUEUE_SKIP),
    ("a taint change is no concern of it", events.NODE_TAINT_CHANGE, node(), node(labels=SSD),
     None),
    ("nor is more cpu", events.NODE_ALLOCATABLE_CHANGE, node(), node(cpu="8"), None),
    ("nor a bound pod deleted", events.ASSIGNED_POD_DELETE, pod(node_name="node1"), None, None),
])
def test_node_affinity_wakes_a_pod_only_for_a_node_it_now_matches(what, event, old, new,
                                                                   expected):
    p = pod(node_selector=SSD)
    assert requeue_hint(NodeAffinity(), event, p, old, new) == expected, what
