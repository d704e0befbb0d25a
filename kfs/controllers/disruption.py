"""The disruption controller: how many pods each PodDisruptionBudget can spare right now.

An eviction (``kfs/apiserver/kinds/eviction.py``) only reads a budget's
``status.disruptionsAllowed``; this controller keeps it true. Mirrors
``pkg/controller/disruption/disruption.go``. ``reconcile("ns/name")`` of a budget:

1. its pods: those of its namespace its selector matches (an empty selector: all of them,
   a missing one: none);
2. ``expectedPods`` and ``desiredHealthy``: with an integer ``minAvailable``, the pods found
   and that number; with a percentage, or with ``maxUnavailable``, the pods their
   controllers *want* (the owners' ``spec.replicas``: a Deployment's, through its
   ReplicaSet, or a lone ReplicaSet's), and the percentage of it rounded up (``desired =
   expected - maxUnavailable``). A pod with no controller is reported (event
   ``UnmanagedPods``); an owner it cannot find is an error;
3. ``disruptedPods``: the pods evictions are deleting, kept until their deletion shows up
   (a deletionTimestamp) or 2 minutes have passed (``DELETION_TIMEOUT``: the eviction's
   delete must have failed; event ``NotDeleted``); the controller looks again when the
   next one expires;
4. ``currentHealthy``: the Ready pods, not terminating and not in ``disruptedPods``;
5. ``disruptionsAllowed = currentHealthy - desiredHealthy`` (never negative, and 0 while no
   pod is expected, so that a new budget protects its first pods), the generation observed,
   and the condition ``DisruptionAllowed`` (``SufficientPods`` / ``InsufficientPods``),
   written only if something changed.

If anything but a conflict fails, the budget is closed rather than left open (upstream's
*fail safe*): ``disruptionsAllowed: 0`` and ``DisruptionAllowed=False`` with reason
``SyncFailed``. Handlers only enqueue: a budget's own changes, and for a pod's changes the
budget selecting it (the first, by name, with a ``MultiplePodDisruptionBudgets`` warning
when several do).

What real Kubernetes does differently: StatefulSets, ReplicationControllers and any
resource with a ``scale`` subresource count as controllers too; a third queue resets
``DisruptionTarget`` conditions left on pods whose eviction never deleted them; listers
with indexes replace our scans of the caches.
"""
import copy
import logging
import time
from datetime import datetime

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers.deployment_util import scaled_value
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.disruption")

DELETION_TIMEOUT = 120.0   # seconds an eviction's pod may take to show its deletion
CONDITION = "DisruptionAllowed"
SUFFICIENT, INSUFFICIENT, SYNC_FAILED = "SufficientPods", "InsufficientPods", "SyncFailed"


class SyncError(Exception):
    """The budget cannot be computed (an owner nobody can find)."""


class DisruptionController(Controller):
    name = "disruption"

    def __init__(self, client, informers, recorder=None, workers=1, clock=time.time):
        super().__init__(client, informers, recorder)
        self.workers, self.clock = workers, clock
        self.pdb_informer = informers["poddisruptionbudgets"].add_handler(self.on_pdb)
        self.pod_informer = informers["pods"].add_handler(self.on_pod)
        self.rs_informer = informers["replicasets"]
        self.deployment_informer = informers["deployments"]

    # -- event handlers: enqueue keys, nothing else ------------------------------------

    def on_pdb(self, kind, pdb, old):
        self.enqueue(pdb)

    def on_pod(self, kind, pod, old):
        pdb = self.pdb_for_pod(pod)
        if pdb is not None:
            self.enqueue(pdb)

    def pdb_for_pod(self, pod):
        pdbs = sorted((p for p in self.pdb_informer.list(namespace=meta.namespace(pod))
                       if meta.selects((p.get("spec") or {}).get("selector"), pod)), key=meta.name)
        if len(pdbs) > 1 and not cu.being_deleted(pod):
            self.event(pod, "Warning", "MultiplePodDisruptionBudgets",
                       f'Pod "{meta.namespace(pod)}"/"{meta.name(pod)}" matches multiple '
                       f'PodDisruptionBudgets.  Chose "{meta.name(pdbs[0])}" arbitrarily.')
        return pdbs[0] if pdbs else None

    # -- the sync ------------------------------------------------------------------------

    def reconcile(self, key):
        pdb = self.pdb_informer.get(key)
        if pdb is None:
            return None
        try:
            return self.try_sync(pdb)
        except ApiError as e:
            if e.conflict:  # the cache is behind: its next event brings us back
                raise
            error = e
        except (SyncError, ValueError) as e:
            error = e
        log.warning("%s: failed to sync: %s", key, error)
        self.fail_safe(pdb, error)
        return None

    def try_sync(self, pdb):
        """Compute and write the budget's status; seconds until it must be looked at again."""
        pods = self.pods_for(pdb)
        if not pods:
            self.event(pdb, "Normal", "NoPods", "No matching pods found")
        expected, desired, unmanaged = self.expected_pod_count(pdb, pods)
        if unmanaged:
            self.event(pdb, "Warning", "UnmanagedPods", f"Pods selected by this "
                       f"PodDisruptionBudget (selector: {meta.selector_to_string(pdb['spec'].get('selector') or {})}) "
                       "were found to be unmanaged. As a result, the status of the PDB cannot "
                       "be calculated correctly, which may result in undefined behavior. To "
                       'account for these pods please set ".spec.minAvailable" field of the PDB '
                       "to an integer value.")
        now = self.clock()
        disrupted, recheck = self.build_disrupted_pod_map(pods, pdb, now)
        healthy = count_healthy_pods(pods, disrupted, now)
        self.update_pdb_status(pdb, healthy, desired, expected, disrupted)
        return max(recheck - now, 0.1) if recheck is not None else None

    def pods_for(self, pdb):
        selector = (pdb.get("spec") or {}).get("selector")
        return [p for p in self.pod_informer.list(namespace=meta.namespace(pdb))
                if meta.selects(selector, p)]

    def expected_pod_count(self, pdb, pods):
        """(expectedPods, desiredHealthy, unmanaged pod names): getExpectedPodCount."""
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = self.expected_scale(pdb, pods)
            unavailable = scaled_value(spec["maxUnavailable"], expected, round_up=True)
            return expected, max(expected - unavailable, 0), unmanaged
        minimum = spec.get("minAvailable")
        if isinstance(minimum, int):
            return len(pods), minimum, []
        if minimum is not None:
            expected, unmanaged = self.expected_scale(pdb, pods)
            return expected, scaled_value(minimum, expected, round_up=True), unmanaged
        return 0, 0, []

    def expected_scale(self, pdb, pods):
        """The sum of the replicas wanted by the pods' controllers, each counted once."""
        scales, unmanaged = {}, []
        for pod in pods:
            ref = meta.controller_of(pod)
            if ref is None:
                unmanaged.append(meta.name(pod))
                continue
            found = self.find_controller(ref, meta.namespace(pod))
            if found is None:
                raise SyncError(f'found no controllers for pod "{meta.name(pod)}"')
            uid, replicas = found
            scales[uid] = replicas
        return sum(scales.values()), unmanaged

    def find_controller(self, ref, namespace):
        """(uid, spec.replicas) of the workload a controller reference leads to: the
        Deployment of a ReplicaSet (getPodDeployment), or a ReplicaSet of its own."""
        rs = self._owner(self.rs_informer, ref, "ReplicaSet", namespace)
        if rs is None:
            return None
        rs_ref = meta.controller_of(rs)
        if rs_ref is None or rs_ref.get("kind") != "Deployment":
            return rs["metadata"]["uid"], rs["spec"].get("replicas", 1)
        d = self._owner(self.deployment_informer, rs_ref, "Deployment", namespace)
        return (d["metadata"]["uid"], d["spec"].get("replicas", 1)) if d else None

    @staticmethod
    def _owner(informer, ref, kind, namespace):
        group = ref.get("apiVersion", "").rpartition("/")[0]
        if ref.get("kind") != kind or group not in ("apps", "extensions"):
            return None
        obj = informer.get(f"{namespace}/{ref.get('name')}")
        return obj if obj and obj["metadata"].get("uid") == ref.get("uid") else None

    def build_disrupted_pod_map(self, pods, pdb, now):
        """The disruptedPods still awaited, and when the first of them expires (or None)."""
        listed = (pdb.get("status") or {}).get("disruptedPods") or {}
        kept, recheck = {}, None
        for pod in pods:
            at = listed.get(meta.name(pod))
            if at is None or cu.being_deleted(pod):
                continue
            expires = epoch(at) + DELETION_TIMEOUT
            if expires < now:
                log.info("%s: pod %s was expected to be deleted but it wasn't",
                         meta.key(pdb), meta.name(pod))
                self.event(pod, "Warning", "NotDeleted", f"Pod was expected by PDB "
                           f"{meta.namespace(pdb)}/{meta.name(pdb)} to be deleted but it wasn't")
                continue
            recheck = expires if recheck is None else min(recheck, expires)
            kept[meta.name(pod)] = at
        return kept, recheck

    def update_pdb_status(self, pdb, healthy, desired, expected, disrupted):
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status, generation = pdb.get("status") or {}, pdb["metadata"].get("generation", 0)
        wanted = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                  "disruptionsAllowed": allowed, "observedGeneration": generation}
        if all(status.get(k, 0) == v for k, v in wanted.items()) and \
                (status.get("disruptedPods") or {}) == disrupted and conditions_up_to_date(pdb):
            return
        new = copy.deepcopy(pdb)
        new["status"] = {**wanted, "conditions": copy.deepcopy(status.get("conditions") or [])}
        if disrupted:
            new["status"]["disruptedPods"] = disrupted
        update_disruption_allowed_condition(new["status"])
        self.client.update_status(new)
        log.info("%s: %d healthy of %d expected, %d desired: %d disruptions allowed",
                 meta.key(pdb), healthy, expected, desired, allowed)

    def fail_safe(self, pdb, error):
        """Close the budget when its status cannot be computed: no eviction gets through."""
        new = copy.deepcopy(pdb)
        status = new.setdefault("status", {})
        status["disruptionsAllowed"] = 0
        message = (error.status.get("message") or str(error)) if isinstance(error, ApiError) \
            else str(error)
        meta.set_status_condition(status, CONDITION, False, SYNC_FAILED, message,
                                  status.get("observedGeneration", 0))
        try:
            self.client.update_status(new)
        except ApiError as e:
            if not e.not_found:
                raise


def count_healthy_pods(pods, disrupted, now):
    """Ready pods, neither terminating nor being evicted (countHealthyPods)."""
    return sum(1 for p in pods if not cu.being_deleted(p)
               and not (meta.name(p) in disrupted and epoch(disrupted[meta.name(p)]) + DELETION_TIMEOUT > now)
               and cu.is_pod_ready(p))


def epoch(text):
    """Seconds since the epoch of an RFC 3339 time (``2024-01-01T00:00:00Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def update_disruption_allowed_condition(status):
    """UpdateDisruptionAllowedCondition (k8s.io/component-helpers)."""
    if status.get("disruptionsAllowed", 0) > 0:
        meta.set_status_condition(status, CONDITION, True, SUFFICIENT,
                                  observed_generation=status.get("observedGeneration", 0))
    else:
        meta.set_status_condition(status, CONDITION, False, INSUFFICIENT,
                                  observed_generation=status.get("observedGeneration", 0))


def conditions_up_to_date(pdb):
    """ConditionsAreUpToDate: the condition says what disruptionsAllowed says, for this
    generation."""
    status = pdb.get("status") or {}
    c = meta.get_condition(status, CONDITION)
    if c is None or status.get("observedGeneration", 0) != pdb["metadata"].get("generation", 0):
        return False
    if status.get("disruptionsAllowed", 0) > 0:
        return (c.get("status"), c.get("reason")) == ("True", SUFFICIENT)
    return (c.get("status"), c.get("reason")) == ("False", INSUFFICIENT)
