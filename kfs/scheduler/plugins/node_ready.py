"""NodeReady (kfs): a node whose Ready condition is not True takes no new pods.

kfs's own plugin; it mirrors what ``pkg/controller/nodelifecycle`` (the taints it puts on
a node that is not Ready) and TaintToleration do together upstream, so the scheduler stage
works before the controller manager runs, with the same message.

It reads the condition as the node lifecycle controller would taint the node: Ready=Unknown
(the kubelet stopped reporting) as ``node.kubernetes.io/unreachable``, Ready=False or no
Ready condition yet as ``node.kubernetes.io/not-ready``, with effect NoSchedule, and says
no (UnschedulableAndUnresolvable) with TaintToleration's words:
``node(s) had untolerated taint {node.kubernetes.io/not-ready: }``. A pod tolerating that
taint may still go there, and a node that already carries the taint is left to
TaintToleration. A pod it refused is tried again when a node is added or a node's
conditions or taints change, and the pod may go there now.

What real Kubernetes does differently: there is no such plugin; the controller taints the
node (``node.kubernetes.io/not-ready``, ``.../unreachable``) and TaintToleration does the rest.
"""
from kfs import meta
from kfs.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kfs.scheduler.framework import Plugin, spec, unresolvable

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"


class NodeReady(Plugin):
    """NodeReady (kfs): a node whose Ready condition is not True takes no new pods, as if
    the node lifecycle controller had tainted it (not-ready or unreachable, NoSchedule)."""
    name = "NodeReady"

    def filter(self, pod, node_info):
        ready = meta.get_condition(node_info.node.get("status"), "Ready")
        if ready and ready.get("status") == "True":
            return None
        unknown = ready and ready.get("status") == "Unknown"
        key = TAINT_UNREACHABLE if unknown else TAINT_NOT_READY
        if any(t.get("key") == key for t in spec(node_info.node).get("taints") or []):
            return None
        if meta.tolerated(pod, {"key": key, "effect": "NoSchedule"}):
            return None
        return unresolvable(f"node(s) had untolerated taint {{{key}: }}")

    def events_to_register(self):
        return [ClusterEventWithHint(
            ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_CONDITION
                         | ActionType.UPDATE_NODE_TAINT),
            self.is_schedulable_after_node_change)]  # Plugin's: fits now, not before
