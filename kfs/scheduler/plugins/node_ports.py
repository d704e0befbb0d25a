"""NodePorts: each host port a pod's containers want must be free on the node.

Mirrors ``pkg/scheduler/framework/plugins/nodeports/node_ports.go`` (``Filter``, ``Fits``,
``EventsToRegister``, ``isSchedulableAfterPodDeleted``) and ``HostPortInfo.CheckConflict``
of ``framework/types.go``.

Says no (Unschedulable, ``node(s) didn't have free ports for the requested pod ports``)
when another pod on the node has the same protocol and port on the same host IP, or either
of them binds 0.0.0.0. A pod it refused is tried again when a node is added (no hint: a
new node is always worth a try) or when a bound pod that held one of the ports it wants is
deleted; ports cannot change in a running pod, so pod updates are no event.

What real Kubernetes does differently: PreFilter collects the pod's ports once per cycle,
and skips the plugin for a pod without host ports.
"""
from kfs.scheduler.events import (NODE, POD, QUEUE, QUEUE_SKIP, ActionType, ClusterEvent,
                                  ClusterEventWithHint)
from kfs.scheduler.framework import Plugin, host_ports, spec, unschedulable


def _ports_conflict(a, b):
    """Same protocol and port, and the same hostIP or either one is 0.0.0.0."""
    return a[1:] == b[1:] and (a[0] == b[0] or "0.0.0.0" in (a[0], b[0]))


def fits(pod, used_ports):
    return not any(_ports_conflict(wanted, used)
                   for wanted in host_ports(pod) for used in used_ports)


class NodePorts(Plugin):
    """NodePorts: each hostPort the pod's containers want must be free on the node."""
    name = "NodePorts"

    def filter(self, pod, node_info):
        if not fits(pod, node_info.used_ports):
            return unschedulable("node(s) didn't have free ports for the requested pod ports")
        return None

    def events_to_register(self):
        return [ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE),
                                     self.is_schedulable_after_pod_deleted),
                ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD))]

    def is_schedulable_after_pod_deleted(self, pod, deleted, _):
        """A bound pod gone that held a host port the waiting pod wants."""
        if not spec(deleted).get("nodeName"):
            return QUEUE_SKIP  # it held no port anywhere
        return QUEUE_SKIP if fits(pod, host_ports(deleted)) else QUEUE
