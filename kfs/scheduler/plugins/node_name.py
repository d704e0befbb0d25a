"""NodeName: a pod that names a node (spec.nodeName) fits that node only.

Mirrors ``pkg/scheduler/framework/plugins/nodename/node_name.go`` (``Filter``,
``EventsToRegister``).

Says no (UnschedulableAndUnresolvable, ``node(s) didn't match the requested node name``) on
every other node. Only a node added can help a pod it refused, and it needs no hint: the
pod is tried again (upstream registers Node/Add without a QueueingHintFn).

What real Kubernetes does differently: nothing in the filter. A pod whose spec.nodeName is
set is bound already and never waits for the scheduler, so the scheduler seldom meets
one; upstream's kubelet runs the same check when it admits a pod (``GeneralPredicates``).
"""
from kfs.scheduler.events import NODE, ActionType, ClusterEvent, ClusterEventWithHint
from kfs.scheduler.framework import Plugin, spec, unresolvable


class NodeName(Plugin):
    """NodeName: a pod that names a node (spec.nodeName) fits that node only."""
    name = "NodeName"

    def filter(self, pod, node_info):
        wanted = spec(pod).get("nodeName")
        if wanted and wanted != node_info.name:
            return unresolvable("node(s) didn't match the requested node name")
        return None

    def events_to_register(self):
        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD))]
