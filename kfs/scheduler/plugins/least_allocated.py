"""NodeResourcesLeastAllocated: prefer the node with the most cpu and memory left.

Mirrors the LeastAllocated scoring strategy of
``pkg/scheduler/framework/plugins/noderesources`` (``least_allocated.go``:
``leastResourceScorer``, ``leastRequestedScore``; ``resource_allocation.go``), which
upstream runs as the Score half of NodeResourcesFit; kfs keeps the name it had as a
plugin of its own in older releases, so that a score table says what it measures.

Score, weight 1: for cpu and memory, the share left free once the pod is there, 0..100,
the two weighted equally. A container without requests counts as 100m and 200Mi (the
non-zero requests), so that empty nodes attract request-less pods and they spread. A score
never rejects a pod, so the plugin registers no events.

What real Kubernetes does differently: the resources and their weights are configurable
(``scoringStrategy``), and MostAllocated or RequestedToCapacityRatio can replace the
strategy; a PreScore step computes the pod's requests once.
"""
from kfs.scheduler.framework import MAX_NODE_SCORE, Plugin, pod_requests


def least_requested_score(requested, capacity):
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


class NodeResourcesLeastAllocated(Plugin):
    """NodeResourcesLeastAllocated: the share of cpu and memory left free once the pod is
    there, 0..100, cpu and memory weighted equally (request-less containers count as
    100m and 200Mi, so empty nodes win)."""
    name = "NodeResourcesLeastAllocated"
    weight = 1

    def score(self, pod, node_info):
        req, used = pod_requests(pod, non_zero=True), node_info.non_zero_requested
        alloc = node_info.allocatable
        scores = []
        if alloc.milli_cpu:  # a resource the node does not report is left out, as upstream
            scores.append(least_requested_score(used.milli_cpu + req.milli_cpu,
                                                alloc.milli_cpu))
        if alloc.memory:
            scores.append(least_requested_score(used.memory + req.memory, alloc.memory))
        return sum(scores) // len(scores) if scores else 0

    def events_to_register(self):
        return []  # a score never rejects a pod
