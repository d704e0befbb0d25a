"""TaintToleration, table-driven: taints against tolerations, and the events that help."""
import pytest

from kfs.scheduler import events
from kfs.scheduler.events import QUEUE, QUEUE_SKIP
from kfs.scheduler.framework import UNRESOLVABLE
from kfs.scheduler.plugins.taint_toleration import TaintToleration
from tests.unit.scheduler_objects import OK, node, node_info, pod, requeue_hint, verdict

GPU = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
PREFER = {"key": "slow", "value": "yes", "effect": "PreferNoSchedule"}


@pytest.mark.parametrize("what, tolerations, taints, expected", [
    ("no taints, no tolerations needed", None, None, OK),
    ("an untolerated NoSchedule taint is named with its value", None, [GPU],
     (UNRESOLVABLE, ["node(s) had untolerated taint {gpu: true}"])),
    ("an untolerated NoExecute taint with no value", None, [UNREACHABLE],
     (UNRESOLVABLE, ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"])),
    ("PreferNoSchedule never filters", None, [PREFER], OK),
    ("Equal with the same value tolerates",
     [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}], [GPU], OK),
    ("operator defaults to Equal", [{"key": "gpu", "value": "true"}], [GPU], OK),
    ("Equal with another value does not",
     [{"key": "gpu", "operator": "Equal", "value": "false"}], [GPU],
     (UNRESOLVABLE, ["node(s) had untolerated taint {gpu: true}"])),
    ("Exists on the key tolerates any value", [{"key": "gpu", "operator": "Exists"}], [GPU], OK),
    ("another effect does not tolerate",
     [{"key": "gpu", "operator": "Exists", "effect": "NoExecute"}], [GPU],
     (UNRESOLVABLE, ["node(s) had untolerated taint {gpu: true}"])),
    ("the first untolerated taint is the reason",
     [{"key": "gpu", "operator": "Exists"}], [GPU, UNREACHABLE],
     (UNRESOLVABLE, ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"])),
])
def test_taint_toleration(what, tolerations, taints, expected):
    p = pod(tolerations=tolerations)
    assert verdict(TaintToleration().filter(p, node_info(node(taints=taints)))) == expected, what


DEDICATED = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}


@pytest.mark.parametrize("what, event, old, new, expected", [
    ("a new node without taints", events.NODE_ADD, None, node(), QUEUE),
    ("a new node with a taint the pod does not tolerate", events.NODE_ADD, None,
     node(taints=[GPU]), QUEUE_SKIP),
    ("the taint removed", events.NODE_TAINT_CHANGE, node(taints=[GPU]), node(), QUEUE),
    ("one taint removed, another one still there", events.NODE_TAINT_CHANGE,
     node(taints=[GPU, DEDICATED]), node(taints=[DEDICATED]), QUEUE_SKIP),
    ("a taint removed from a node the pod could use already", events.NODE_TAINT_CHANGE,
     node(taints=[PREFER]), node(), QUEUE_SKIP),
    ("an uncordon is filed as a taint change, but leaves the taints as they were",
     events.NODE_SPEC_UNSCHEDULABLE_CHANGE, node(taints=[GPU], unschedulable=True),
     node(taints=[GPU]), QUEUE_SKIP),
    ("labels are no concern of it", events.NODE_LABEL_CHANGE, node(taints=[GPU]), node(), None),
])
def test_taint_toleration_wakes_a_pod_when_a_node_stops_repelling_it(what, event, old, new,
                                                                      expected):
    assert requeue_hint(TaintToleration(), event, pod(), old, new) == expected, what
