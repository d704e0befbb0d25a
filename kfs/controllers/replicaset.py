"""The ReplicaSet controller: keep exactly `spec.replicas` pods matching the selector.

Mirrors ``pkg/controller/replicaset/replica_set.go``. ``reconcile("ns/name")``:

1. read the ReplicaSet from the cache (gone: forget its expectations, done);
2. take the namespace's active pods (not finished, not being deleted) and **claim** them:
   pods it controls that still match the selector stay, pods it controls that stopped
   matching are released (its owner reference removed), orphans that match are adopted;
3. only if its expectations are satisfied (no creation or deletion of its own still in
   flight) and it is not being deleted: create the missing pods (``generateName
   "<rs>-"``, a controller owner reference, the template's labels and spec) in slow-start
   batches of 1, 2, 4, ..., or delete the surplus, the least valuable first (unscheduled,
   pending, not ready, doubled up on a node, newest);
4. write the status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
   (ready for ``minReadySeconds``), observedGeneration.

Event handlers only enqueue: a ReplicaSet's own changes; a pod's owner when the pod is
added, changed or deleted (lowering the owner's expectations); for an orphan pod, every
ReplicaSet whose selector matches it.

What real Kubernetes does differently: the ReplicationController shares this code;
expectations live in a TTL store keyed by UID-tracking sets; scale-down also ranks pods
by the pods of sibling ReplicaSets of the same Deployment on each node; status updates are
retried through a fresh GET; conditions for quota failures.
"""
import copy
import logging
from concurrent.futures import ThreadPoolExecutor

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.replicaset")

BURST_REPLICAS = 500  # the most pods one sync creates or deletes


class ReplicaSetController(Controller):
    name = "replicaset"
    kind = "ReplicaSet"

    def __init__(self, client, informers, recorder=None, workers=5):
        super().__init__(client, informers, recorder)
        self.workers = workers
        self.expectations = cu.Expectations()
        self.rs_informer = informers["replicasets"].add_handler(self.on_replicaset)
        self.pod_informer = informers["pods"].add_handler(self.on_pod)

    # -- event handlers: enqueue keys, nothing else ------------------------------------

    def on_replicaset(self, kind, rs, old):
        if kind == "DELETED":
            self.expectations.delete(meta.key(rs))
        self.enqueue(rs)

    def owner_of(self, pod):
        """The ReplicaSet (from the cache) controlling `pod`, or None."""
        ref = meta.controller_of(pod)
        if not ref or ref.get("kind") != self.kind:
            return None
        rs = self.rs_informer.get(f"{meta.namespace(pod)}/{ref['name']}")
        return rs if rs and rs["metadata"].get("uid") == ref.get("uid") else None

    def matching_replicasets(self, pod):
        return [rs for rs in self.rs_informer.list(namespace=meta.namespace(pod))
                if meta.selects(rs["spec"].get("selector"), pod)]

    def on_pod(self, kind, pod, old):
        if kind == "DELETED" or (kind == "ADDED" and cu.being_deleted(pod)):
            return self.pod_deleted(pod)
        if kind == "ADDED":
            rs = self.owner_of(pod)
            if rs is not None:
                self.expectations.creation_observed(meta.key(rs))
                return self.enqueue(rs)
            if meta.controller_of(pod) is None:
                for rs in self.matching_replicasets(pod):
                    self.enqueue(rs)
            return
        if old is not None and old["metadata"].get("resourceVersion") == \
                pod["metadata"].get("resourceVersion"):
            return
        if cu.being_deleted(pod):
            self.pod_deleted(pod)
            if old is not None and meta.labels(old) != meta.labels(pod):
                self.pod_deleted(old)
            return
        owners = {meta.key(rs): rs for p in (pod, old) if p is not None
                  for rs in [self.owner_of(p)] if rs is not None}
        if meta.controller_of(pod) is None:
            owners.update({meta.key(rs): rs for rs in self.matching_replicasets(pod)})
        for rs in owners.values():
            self.enqueue(rs)

    def pod_deleted(self, pod):
        rs = self.owner_of(pod)
        if rs is not None:
            self.expectations.deletion_observed(meta.key(rs), meta.key(pod))
            self.enqueue(rs)

    # -- the sync ------------------------------------------------------------------------

    def reconcile(self, key):
        rs = self.rs_informer.get(key)
        if rs is None:
            self.expectations.delete(key)
            return None
        needs_sync = self.expectations.satisfied(key)
        active = cu.filter_active_pods(self.pod_informer.list(namespace=meta.namespace(rs)))
        pods = cu.claim(rs, active, rs["spec"].get("selector"),
                        adopt=lambda p: self.adopt(rs, p), release=lambda p: self.release(rs, p),
                        can_adopt=lambda: cu.owner_still_adoptable(self.client, "replicasets",
                                                                   rs))
        error = None
        if needs_sync and not cu.being_deleted(rs):
            error = self.manage_replicas(pods, rs)
        status = calculate_status(rs, pods, error)
        self.update_status(rs, status)
        if error is not None:
            raise error
        min_ready = rs["spec"].get("minReadySeconds") or 0
        if min_ready and status["readyReplicas"] != status["availableReplicas"]:
            return min_ready  # look again when the ready pods become available
        return None

    def manage_replicas(self, pods, rs):
        """Create or delete pods to reach spec.replicas; the first error, or None."""
        key = meta.key(rs)
        diff = len(pods) - rs["spec"].get("replicas", 1)
        if diff < 0:
            return self.create_pods(rs, min(-diff, BURST_REPLICAS))
        if diff > 0:
            victims = cu.pods_to_delete(pods, pods, min(diff, BURST_REPLICAS))
            self.expectations.expect_deletions(key, [meta.key(p) for p in victims])
            return self.delete_pods(rs, victims)
        return None

    def create_pods(self, rs, count):
        key = meta.key(rs)
        self.expectations.expect_creations(key, count)
        template = rs["spec"].get("template") or {}

        def create_one():
            try:
                pod = self.client.create(cu.pod_from_template(template, rs),
                                         namespace=meta.namespace(rs))
            except ApiError as e:
                self.event(rs, "Warning", "FailedCreate", f"Error creating: {e.status.get('message', e)}")
                raise
            self.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {meta.name(pod)}")

        created, error = cu.slow_start_batch(count, create_one)
        for _ in range(count - created):  # never coming: the informer won't see them
            self.expectations.creation_observed(key)
        log.info("%s: created %d of %d pods", key, created, count)
        return error

    def delete_pods(self, rs, victims):
        key = meta.key(rs)

        def delete_one(pod):
            try:
                self.client.delete("pods", meta.name(pod), meta.namespace(pod),
                                   uid=pod["metadata"].get("uid"))
            except ApiError as e:
                self.expectations.deletion_observed(key, meta.key(pod))
                if not e.not_found:
                    self.event(rs, "Warning", "FailedDelete", f"Error deleting: {e}")
                    return e
                return None
            self.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {meta.name(pod)}")
            return None

        with ThreadPoolExecutor(max_workers=min(16, len(victims))) as pool:
            errors = [e for e in pool.map(delete_one, victims) if e is not None]
        log.info("%s: deleted %d pods", key, len(victims) - len(errors))
        return errors[0] if errors else None

    # -- adoption -------------------------------------------------------------------------

    def adopt(self, rs, pod):
        return self.patch_owner_refs(cu.with_controller_ref(pod, rs))

    def release(self, rs, pod):
        return self.patch_owner_refs(cu.without_owner(pod, rs["metadata"]["uid"]))

    def patch_owner_refs(self, pod):
        """A merge patch of the pod's owner references, guarded by its resourceVersion."""
        md = pod["metadata"]
        return self.client.patch("pods", md["name"], {"metadata": {
            "ownerReferences": md["ownerReferences"], "resourceVersion": md["resourceVersion"],
            "uid": md["uid"]}}, md["namespace"])

    def update_status(self, rs, status):
        if not status_differs(rs.get("status") or {}, status):
            return rs
        updated = copy.deepcopy(rs)
        updated["status"] = status
        try:
            try:
                return self.client.update_status(updated)
            except ApiError as e:
                if not e.conflict:
                    raise
            fresh = self.client.get("replicasets", meta.name(rs), meta.namespace(rs))
            fresh["status"] = status
            return self.client.update_status(fresh)
        except ApiError as e:
            if e.not_found:  # deleted meanwhile: nothing to report on
                return rs
            raise


# -- status ---------------------------------------------------------------------------------

def calculate_status(rs, pods, manage_error=None):
    """The ReplicaSet's status for its claimed active pods (calculateStatus)."""
    template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = rs["spec"].get("minReadySeconds") or 0
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(all(meta.labels(p).get(k) == v
                                        for k, v in template_labels.items()) for p in pods),
        "readyReplicas": sum(cu.is_pod_ready(p) for p in pods),
        "availableReplicas": sum(cu.is_pod_available(p, min_ready) for p in pods),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    conditions = [c for c in (rs.get("status") or {}).get("conditions") or []
                  if c.get("type") != "ReplicaFailure"]
    if manage_error is not None:
        reason = "FailedCreate" if len(pods) < rs["spec"].get("replicas", 1) else "FailedDelete"
        conditions.append({"type": "ReplicaFailure", "status": "True", "reason": reason,
                           "message": str(manage_error), "lastTransitionTime": meta.now()})
    if conditions:
        status["conditions"] = conditions
    return status


_COUNTS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
           "observedGeneration")


def status_differs(old, new):
    """Compare statuses as the server stores them (a zero count may be left out)."""
    if any((old.get(k) or 0) != (new.get(k) or 0) for k in _COUNTS):
        return True

    def conds(s):
        return sorted((c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
                      for c in s.get("conditions") or [])
    return conds(old) != conds(new)
