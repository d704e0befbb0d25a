"""The node lifecycle controller: notice dead nodes, taint them, evict their pods.

Mirrors ``pkg/controller/nodelifecycle/node_lifecycle_controller.go`` (``monitorNodeHealth``,
``tryUpdateNodeHealth``, ``processTaintBaseEviction``) and the NoExecute taint manager
``pkg/controller/tainteviction/taint_eviction.go``, shrunk. ``reconcile(node)``:

1. **health**: a kubelet proves it is alive by renewing its Lease in ``kube-node-lease``
   (and by posting node status). The controller remembers, on its own clock, when it last
   saw either change; after ``--node-monitor-grace-period`` without one, the node's Ready
   condition becomes ``Unknown`` (reason ``NodeStatusUnknown``, "Kubelet stopped posting
   node status.") and its pods are marked not Ready, so Services stop sending them traffic;
2. **taints**: Ready ``Unknown`` → ``node.kubernetes.io/unreachable`` (NoExecute and
   NoSchedule); Ready ``False`` → ``node.kubernetes.io/not-ready``; Ready ``True`` → neither.
   The scheduler keeps new pods off a tainted node;
3. **eviction** (the taint manager): a pod on a node with NoExecute taints is deleted once
   its tolerations run out: at once if a taint is not tolerated, after the smallest
   ``tolerationSeconds`` of the matching tolerations, never if they have none. The
   ReplicaSet then creates a replacement and the scheduler puts it on a live node.

Upstream's API server gives every pod tolerations for not-ready and unreachable of 300 s
(the DefaultTolerationSeconds admission plugin). Here a pod with no toleration for those
two taints is treated as if it had them, with course-sized seconds
(``--default-unreachable-toleration-seconds``, ``--default-not-ready-toleration-seconds``),
so the course need not wait five minutes; explicit tolerations win.

When no node at all is Ready, nothing is evicted: the network (or the API server), not
every node, is then the likelier culprit (upstream's "full disruption" mode).

What real Kubernetes does differently: evictions are rate-limited per zone, and full
disruption is judged zone by zone; taints are added
through a rate-limited queue; a startup grace period for new nodes; the taint manager is
its own controller with a timed work queue per pod; the kubelet deletes pods finally only
when it comes back (a pod on a dead node stays Terminating).
"""
import copy
import logging
import time

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.nodelifecycle")

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
LEASE_NAMESPACE = "kube-node-lease"
CONDITIONS_TO_UNKNOWN = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


class NodeLifecycleController(Controller):
    name = "nodelifecycle"

    def __init__(self, client, informers, recorder=None, grace_period=20.0, monitor_period=5.0,
                 default_not_ready_toleration=20, default_unreachable_toleration=20,
                 clock=time.monotonic, wall=time.time):
        super().__init__(client, informers, recorder)
        self.grace_period, self.resync_period = grace_period, monitor_period
        self.default_tolerations = {NOT_READY: default_not_ready_toleration,
                                    UNREACHABLE: default_unreachable_toleration}
        self.clock, self.wall = clock, wall
        self.health = {}  # node name -> {"probe": clock time, "renew": ..., "heartbeat": ...}
        self.node_informer = informers["nodes"].add_handler(self.on_node)
        self.lease_informer = informers["leases"].add_handler(self.on_lease)
        self.pod_informer = informers["pods"].add_handler(self.on_pod)

    # -- handlers ---------------------------------------------------------------------------

    def on_node(self, kind, node, old):
        self.enqueue(meta.name(node))

    def on_lease(self, kind, lease, old):
        if meta.namespace(lease) == LEASE_NAMESPACE:
            self.enqueue(meta.name(lease))

    def on_pod(self, kind, pod, old):
        node = pod["spec"].get("nodeName")
        if node and kind != "DELETED" and (old is None or old["spec"].get("nodeName") != node):
            self.enqueue(node)

    def resync(self):
        """monitorNodeHealth runs every --node-monitor-period, over every node."""
        for node in self.node_informer.list():
            self.enqueue(meta.name(node))

    # -- the sync -----------------------------------------------------------------------------

    def reconcile(self, name):
        cached = self.node_informer.get(name)
        if cached is None:
            self.health.pop(name, None)
            return None
        node = copy.deepcopy(cached)
        node, ready, grace_left = self.update_health(node)
        node = self.process_taints(node, ready)
        next_eviction = self.evict_pods(node)
        waits = [w for w in (grace_left, next_eviction) if w is not None]
        return min(waits) if waits else None

    def update_health(self, node):
        """(node, observed Ready status, seconds until the grace period runs out or None)."""
        name, now = meta.name(node), self.clock()
        lease = self.lease_informer.get(f"{LEASE_NAMESPACE}/{name}")
        renew = (lease or {}).get("spec", {}).get("renewTime")
        ready = meta.get_condition(node.get("status"), "Ready")
        heartbeat = (ready or {}).get("lastHeartbeatTime")
        h = self.health.get(name)
        if h is None or (h["renew"], h["heartbeat"]) != (renew, heartbeat):
            h = self.health[name] = {"probe": now, "renew": renew, "heartbeat": heartbeat}
        silent = now - h["probe"]
        status = ready.get("status") if ready else None
        if silent <= self.grace_period:
            return node, status, self.grace_period - silent + 0.1
        if status != "Unknown":
            node = self.mark_unknown(node, never=ready is None)
            self.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        self.mark_pods_not_ready(name)
        return node, "Unknown", None

    def mark_unknown(self, node, never=False):
        """Ready (and the pressure conditions) Unknown: the kubelet went silent."""
        status, at = node.setdefault("status", {}), meta.now()
        reason = "NodeStatusNeverUpdated" if never else "NodeStatusUnknown"
        message = "Kubelet never posted node status." if never else \
            "Kubelet stopped posting node status."
        for c in status.get("conditions") or []:
            if c["type"] in CONDITIONS_TO_UNKNOWN and c.get("status") != "Unknown":
                c.update(status="Unknown", reason=reason, message=message, lastTransitionTime=at)
        if meta.get_condition(status, "Ready") is None:
            status.setdefault("conditions", []).append({
                "type": "Ready", "status": "Unknown", "reason": reason, "message": message,
                "lastHeartbeatTime": at, "lastTransitionTime": at})
        log.info("node %s: %s", meta.name(node), message)
        return self.client.update_status(node)

    def mark_pods_not_ready(self, node_name):
        for pod in self.pods_on(node_name):
            if not cu.is_pod_ready(pod):
                continue
            pod = copy.deepcopy(pod)
            meta.set_condition(pod["status"], "Ready", False)
            try:
                self.client.update_status(pod)
            except ApiError as e:
                if not (e.not_found or e.conflict):
                    raise

    def pods_on(self, node_name):
        return [p for p in self.pod_informer.list() if p["spec"].get("nodeName") == node_name]

    # -- taints -----------------------------------------------------------------------------------

    def process_taints(self, node, ready):
        if ready is None:  # a new node that has not said how it is yet
            return node
        wanted_key = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(ready)
        current = node.get("spec", {}).get("taints") or []
        kept = [t for t in current if t.get("key") not in (UNREACHABLE, NOT_READY)
                or t.get("key") == wanted_key]
        if wanted_key:
            for effect in ("NoSchedule", "NoExecute"):
                if not any(t.get("key") == wanted_key and t.get("effect") == effect for t in kept):
                    taint = {"key": wanted_key, "effect": effect}
                    if effect == "NoExecute":
                        taint["timeAdded"] = meta.now()
                    kept.append(taint)
        if kept == current:
            return node
        log.info("node %s: taints now %s", meta.name(node),
                 [f"{t['key']}:{t['effect']}" for t in kept] or "none")
        return self.client.patch("nodes", meta.name(node), {
            "spec": {"taints": kept or None},
            "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}})

    # -- eviction (the taint manager) ---------------------------------------------------------------

    def eviction_delay(self, pod, taints):
        """Seconds a pod may stay on a node with these NoExecute taints; None: forever."""
        tolerations = pod["spec"].get("tolerations") or []
        used = []
        for taint in taints:
            matching = [t for t in tolerations if meta.tolerates(t, taint)]
            if matching:
                used.extend(t.get("tolerationSeconds") for t in matching)
            elif taint.get("key") in self.default_tolerations:
                used.append(self.default_tolerations[taint["key"]])
            else:
                return 0
        seconds = [s for s in used if s is not None]
        if not seconds:
            return None if used else 0
        return max(min(seconds), 0)

    def evict_pods(self, node):
        """Delete the pods whose tolerations ran out; seconds until the next one does."""
        taints = [t for t in node.get("spec", {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return None
        if not any(meta.condition_true(n, "Ready") for n in self.node_informer.list()):
            # "full disruption": every node silent at once is more likely our own (or the
            # API server's) trouble than theirs; upstream stops evicting too
            log.info("no node is Ready: not evicting from %s", meta.name(node))
            return self.resync_period
        since = max(meta.parse_time(t["timeAdded"]).timestamp() if t.get("timeAdded")
                    else self.wall() for t in taints)
        now, next_check = self.wall(), None
        for pod in self.pods_on(meta.name(node)):
            if cu.being_deleted(pod):
                continue
            delay = self.eviction_delay(pod, taints)
            if delay is None:
                continue
            left = since + delay - now
            if left > 0:
                next_check = left if next_check is None else min(next_check, left)
                continue
            self.evict(pod)
        return None if next_check is None else next_check + 0.1

    def evict(self, pod):
        log.info("evicting pod %s from node %s", meta.key(pod), pod["spec"].get("nodeName"))
        self.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {meta.key(pod)}")
        try:
            self.client.delete("pods", meta.name(pod), meta.namespace(pod),
                               uid=pod["metadata"].get("uid"))
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise
