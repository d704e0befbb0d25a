"""NodeUnschedulable: a cordoned node takes no new pods.

Mirrors ``pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go``
(``Filter``, ``EventsToRegister``, ``isSchedulableAfterNodeChange``).

Says no (UnschedulableAndUnresolvable, ``node(s) were unschedulable``) when the node has
``spec.unschedulable`` (``kubectl cordon``) and the pod does not tolerate the
``node.kubernetes.io/unschedulable:NoSchedule`` taint. A pod it refused is tried again when
a node is added, or a node is uncordoned (an event upstream files as a taint change), and
the pod may go there now.

What real Kubernetes does differently: a pod's own update adding the toleration is an
event the plugin registers too (``UpdatePodToleration``); kfs wakes a changed pod anyway.
"""
from kfs import meta
from kfs.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kfs.scheduler.framework import Plugin, spec, unresolvable

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


class NodeUnschedulable(Plugin):
    """NodeUnschedulable: a cordoned node (``kubectl cordon``) takes no new pods, unless
    the pod tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint."""
    name = "NodeUnschedulable"

    def filter(self, pod, node_info):
        if not spec(node_info.node).get("unschedulable"):
            return None
        if meta.tolerated(pod, {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}):
            return None
        return unresolvable("node(s) were unschedulable")

    def events_to_register(self):
        return [ClusterEventWithHint(
            ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
            self.is_schedulable_after_node_change)]  # Plugin's: fits now, not before
