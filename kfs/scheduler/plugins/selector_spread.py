"""SelectorSpread: prefer nodes with fewer pods of the same owner.

Mirrors ``pkg/scheduler/framework/plugins/selectorspread/selector_spread.go`` as it was
before its removal (``Score``, ``NormalizeScore``), shrunk: the pods of the same
controller (the same ReplicaSet, say) count, not every Service or controller selecting
the pod.

Score, weight 2: how many (not terminating) pods of the pod's controller already run on
the node; ``normalize`` then gives the most crowded node 0 and an empty one 100, linearly
between, so a Deployment's replicas land on different nodes. A pod without a controller
scores the same everywhere. A score never rejects a pod, so the plugin registers no events.

What real Kubernetes does differently: SelectorSpread is gone (left out of the v1
scheduler configuration in 1.25, its code removed in 1.29); the default
PodTopologySpread constraints (maxSkew across hostnames and zones, for the pods a Service,
ReplicaSet or StatefulSet selects) do this job, and zones weigh in too.
"""
from kfs import meta
from kfs.scheduler.framework import MAX_NODE_SCORE, Plugin


def spread_normalize(counts):
    """The node with the most siblings gets 0, a node with none 100, linearly between."""
    most = max(counts.values(), default=0)
    if most == 0:
        return {n: MAX_NODE_SCORE for n in counts}
    return {n: int(MAX_NODE_SCORE * (most - c) / most) for n, c in counts.items()}


class SelectorSpread(Plugin):
    """SelectorSpread: how many pods of the same owner (the same controller, e.g. the
    ReplicaSet) already run on the node. Fewer is better: see spread_normalize."""
    name = "SelectorSpread"
    weight = 2

    def score(self, pod, node_info):
        owner = meta.controller_of(pod)
        if owner is None:
            return 0
        # node_info.owners counts the node's (not terminating) pods per (namespace, owner uid)
        return node_info.owners.get((meta.namespace(pod), owner.get("uid")), 0)

    def normalize(self, counts):
        return spread_normalize(counts)

    def events_to_register(self):
        return []  # a score never rejects a pod
