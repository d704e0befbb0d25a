"""NodeReady (kfs), table-driven: a node that is not Ready, and the events that help."""
import pytest

from kfs.scheduler import events
from kfs.scheduler.events import QUEUE, QUEUE_SKIP
from kfs.scheduler.framework import UNRESOLVABLE
from kfs.scheduler.plugins.node_ready import NodeReady
from tests.unit.scheduler_objects import OK, node, node_info, pod, requeue_hint, verdict

NOT_READY = (UNRESOLVABLE, ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"])
UNREACHABLE_MSG = (UNRESOLVABLE,
                   ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"])


@pytest.mark.parametrize("what, ready, tolerations, taints, expected", [
    ("a Ready node takes pods", "True", None, None, OK),
    ("Ready=False reads as the not-ready taint", "False", None, None, NOT_READY),
    ("no Ready condition yet reads as not-ready", None, None, None, NOT_READY),
    ("Ready=Unknown (kubelet silent) reads as unreachable", "Unknown", None, None,
     UNREACHABLE_MSG),
    ("a pod tolerating unreachable may still go",
     "Unknown", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}], None, OK),
    ("a NoExecute-only toleration does not tolerate the NoSchedule reading",
     "Unknown", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                  "effect": "NoExecute", "tolerationSeconds": 300}], None, UNREACHABLE_MSG),
    ("a node the controller already tainted is left to TaintToleration", "Unknown", None,
     [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}], OK),
])
def test_node_ready(what, ready, tolerations, taints, expected):
    ni = node_info(node(ready=ready, taints=taints))
    assert verdict(NodeReady().filter(pod(tolerations=tolerations), ni)) == expected, what


@pytest.mark.parametrize("what, event, old, new, expected", [
    ("a new Ready node", events.NODE_ADD, None, node(), QUEUE),
    ("a new node not Ready yet", events.NODE_ADD, None, node(ready=None), QUEUE_SKIP),
    ("the node became Ready", events.NODE_CONDITION_CHANGE, node(ready="False"), node(),
     QUEUE),
    ("the node went from not-ready to unreachable", events.NODE_CONDITION_CHANGE,
     node(ready="False"), node(ready="Unknown"), QUEUE_SKIP),
    ("allocatable is no concern of it", events.NODE_ALLOCATABLE_CHANGE, node(ready="False"),
     node(ready="False", cpu="8"), None),
])
def test_node_ready_wakes_a_pod_when_a_node_becomes_ready(what, event, old, new, expected):
    assert requeue_hint(NodeReady(), event, pod(), old, new) == expected, what
