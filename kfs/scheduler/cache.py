"""The scheduler's cache: every node with the pods counted on it, assumed pods included.

Mirrors ``pkg/scheduler/backend/cache/cache.go`` (``cacheImpl``: ``AddNode``, ``AddPod``,
``AssumePod``, ``ForgetPod``, ``FinishBinding``) shrunk. Informer handlers feed it bound
pods and nodes; ``schedule_one`` reads ``node_infos()`` and, once it has picked a node,
``assume_pod``s the pod there *before* the binding request returns, so the next decision
already counts it (otherwise a burst of pods would all see the same free node). When the
informer later shows the pod bound, the assumed entry is confirmed; if binding fails, it
is forgotten and the node's resources come back.

What real Kubernetes does differently: decisions read an incremental Snapshot (a copy
updated by generation numbers) instead of holding a lock; pods are indexed for inter-pod
affinity; image states per node are tracked for ImageLocality.
"""
import threading

from kfs import meta
from kfs.scheduler.framework import NodeInfo, pod_uid

TERMINAL_PHASES = ("Succeeded", "Failed")


def counts_on_node(pod):
    """A bound pod uses its node's resources until it is gone or has finished."""
    return bool((pod.get("spec") or {}).get("nodeName")) and \
        (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES


class Cache:
    def __init__(self):
        self.lock = threading.RLock()
        self.nodes = {}     # node name -> NodeInfo (node None: pods seen before their node)
        self.pod_nodes = {}  # pod uid -> node name it is counted on
        self.assumed = set()  # uids of pods assumed but not yet seen bound

    # -- nodes ----------------------------------------------------------------------------

    def add_node(self, node):
        with self.lock:
            self.nodes.setdefault(meta.name(node), NodeInfo()).set_node(node)

    update_node = add_node

    def remove_node(self, node):
        with self.lock:
            ni = self.nodes.get(meta.name(node))
            if ni is None:
                return
            if ni.pods:  # keep counting its pods until they are deleted too
                ni.node = None
            else:
                del self.nodes[meta.name(node)]

    # -- pods -----------------------------------------------------------------------------

    def add_pod(self, pod):
        """A pod seen bound (or updated) by the informer: count it on its node; this
        confirms an assumed pod, or moves it if it was bound elsewhere."""
        with self.lock:
            self._remove(pod_uid(pod))
            self.assumed.discard(pod_uid(pod))
            if counts_on_node(pod):
                self._add(pod, pod["spec"]["nodeName"])

    update_pod = add_pod

    def remove_pod(self, pod):
        with self.lock:
            self._remove(pod_uid(pod))
            self.assumed.discard(pod_uid(pod))

    def assume_pod(self, pod, node_name):
        """Count `pod` on `node_name` now, before the binding is written."""
        with self.lock:
            assumed = {**pod, "spec": {**pod["spec"], "nodeName": node_name}}
            self._remove(pod_uid(pod))
            self._add(assumed, node_name)
            self.assumed.add(pod_uid(pod))

    def forget_pod(self, pod):
        """Binding failed: stop counting an assumed pod (a confirmed one stays)."""
        with self.lock:
            if pod_uid(pod) in self.assumed:
                self.assumed.discard(pod_uid(pod))
                self._remove(pod_uid(pod))

    def is_assumed(self, pod):
        with self.lock:
            return pod_uid(pod) in self.assumed

    def _add(self, pod, node_name):
        self.nodes.setdefault(node_name, NodeInfo()).add_pod(pod)
        self.pod_nodes[pod_uid(pod)] = node_name

    def _remove(self, uid):
        node_name = self.pod_nodes.pop(uid, None)
        ni = self.nodes.get(node_name)
        if ni is None:
            return
        ni.remove_pod({"metadata": {"uid": uid}})
        if ni.node is None and not ni.pods:
            del self.nodes[node_name]

    # -- reading ----------------------------------------------------------------------------

    def node_infos(self):
        """The NodeInfos of existing nodes, by name (call with `lock` held while deciding)."""
        return [ni for _, ni in sorted(self.nodes.items()) if ni.node is not None]

    def node_info(self, name):
        return self.nodes.get(name)


def snapshot(nodes, pods):
    """A Cache of these nodes and the bound pods among `pods`: the state one decision
    sees (a notebook lists nodes and pods from the API server and explains a decision)."""
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        if counts_on_node(p):
            cache.add_pod(p)
    return cache
