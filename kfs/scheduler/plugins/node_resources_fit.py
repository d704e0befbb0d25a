"""NodeResourcesFit: the pod's requests must fit in what the node has left.

Mirrors the Filter half of ``pkg/scheduler/framework/plugins/noderesources/fit.go``
(``fitsRequest``, ``EventsToRegister``, ``isSchedulableAfterPodEvent``,
``isSchedulableAfterNodeChange``, ``haveAnyRequestedResourcesIncreased``).

The pod's cpu and memory requests (``framework.pod_requests``: containers summed, the
largest init container, overhead) must fit in the node's allocatable minus what its pods
already request, and one more pod must be allowed. Each shortage is its own reason
(Unschedulable): ``Insufficient cpu``, ``Insufficient memory``, ``Too many pods``. A pod it
refused is tried again when a bound pod is deleted (resources come back), when a node is
added that could hold the pod if it were empty, or when a node's allocatable grows in a
resource the pod asks for (or in pods) and the node could hold it empty.

What real Kubernetes does differently: ephemeral-storage and extended resources (GPUs, ...)
are counted too, and some can be ignored by configuration; the plugin's Score half ranks
nodes by a strategy (LeastAllocated by default: kfs's ``NodeResourcesLeastAllocated``);
with in-place resize a pod scaled down is an event as well.
"""
from kfs.scheduler.events import (NODE, POD, QUEUE, QUEUE_SKIP, ActionType, ClusterEvent,
                                  ClusterEventWithHint)
from kfs.scheduler.framework import (NodeInfo, Plugin, node_allocatable, pod_requests, spec,
                                     unschedulable)


class NodeResourcesFit(Plugin):
    """NodeResourcesFit: the pod's cpu and memory requests must fit in the node's
    allocatable minus what its pods already request, and one more pod must be allowed.
    Each shortage is its own reason: a node can be short of both cpu and memory."""
    name = "NodeResourcesFit"

    def filter(self, pod, node_info):
        req, used, alloc = pod_requests(pod), node_info.requested, node_info.allocatable
        reasons = []
        if len(node_info.pods) + 1 > alloc.pods:
            reasons.append("Too many pods")
        if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
            reasons.append("Insufficient cpu")
        if req.memory > 0 and req.memory > alloc.memory - used.memory:
            reasons.append("Insufficient memory")
        return unschedulable(*reasons) if reasons else None

    def events_to_register(self):
        return [ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE),
                                     self.is_schedulable_after_pod_event),
                ClusterEventWithHint(
                    ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
                    self.is_schedulable_after_node_change)]

    def is_schedulable_after_pod_event(self, pod, deleted, _):
        """Any bound pod deleted gives resources back."""
        return QUEUE if spec(deleted).get("nodeName") else QUEUE_SKIP

    def is_schedulable_after_node_change(self, pod, old, new):
        """A node that could hold the pod if empty: new, or with more of what it asks."""
        if self.filter(pod, NodeInfo(new)) is not None:
            return QUEUE_SKIP  # too small even with no pods on it
        if old is None:
            return QUEUE
        return QUEUE if _requested_resources_grew(pod, old, new) else QUEUE_SKIP


def _requested_resources_grew(pod, old, new):
    """More pods allowed, or more of a resource the pod requests (allocatable)."""
    req, before, after = pod_requests(pod), node_allocatable(old), node_allocatable(new)
    return (after.pods > before.pods
            or (req.milli_cpu > 0 and after.milli_cpu > before.milli_cpu)
            or (req.memory > 0 and after.memory > before.memory))
