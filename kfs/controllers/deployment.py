"""The Deployment controller: roll a pod template out through ReplicaSets.

Mirrors ``pkg/controller/deployment/deployment_controller.go`` (handlers, ``syncDeployment``)
and the new-ReplicaSet half of ``sync.go``; the rollout strategies, scaling and status live
in ``deployment_rollout``, the arithmetic in ``deployment_util``.

``reconcile("ns/name")`` (upstream's ``syncDeployment``):

1. read the Deployment from the cache and work on a copy;
2. claim its ReplicaSets (adopt matching orphans, release those that stopped matching);
3. being deleted: only refresh the status. Paused: scale only, no rollout; note the
   pause in the Progressing condition (``DeploymentPaused`` / ``DeploymentResumed``);
4. a **scaling event** (``spec.replicas`` differs from a ReplicaSet's ``desired-replicas``
   annotation): scale the ReplicaSets proportionally, no rollout;
5. otherwise roll out: **RollingUpdate** (create the new ReplicaSet ``<name>-<hash>``,
   scale it up within ``maxSurge``, scale old ones down while at least ``replicas -
   maxUnavailable`` pods stay available) or **Recreate** (old ReplicaSets to 0, wait
   until their pods are gone, then the new one to full size);
6. write the status and the Progressing and Available conditions that ``kubectl rollout
   status`` reads.

``kubectl rollout undo`` needs no controller support: kubectl copies the old ReplicaSet's
template into the Deployment, and the controller finds that ReplicaSet as the new one
(same template) and gives it the next revision.

What real Kubernetes does differently: the deprecated in-controller rollback
(``spec.rollbackTo``) still exists for old API versions; events and status writes go
through typed clients; the informers' resync re-checks every Deployment periodically.
"""
import copy
import logging
import time

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers import deployment_rollout as rollout
from kfs.controllers import deployment_util as du
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.deployment")


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, client, informers, recorder=None, workers=5, clock=time.time):
        super().__init__(client, informers, recorder)
        self.workers, self.clock = workers, clock
        self.d_informer = informers["deployments"].add_handler(self.on_deployment)
        self.rs_informer = informers["replicasets"].add_handler(self.on_replicaset)
        self.pod_informer = informers["pods"].add_handler(self.on_pod)

    # -- event handlers ------------------------------------------------------------------

    def on_deployment(self, kind, d, old):
        self.enqueue(d)

    def owner_of(self, rs):
        ref = meta.controller_of(rs)
        if not ref or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(f"{meta.namespace(rs)}/{ref['name']}")
        return d if d and d["metadata"].get("uid") == ref.get("uid") else None

    def on_replicaset(self, kind, rs, old):
        owners = [self.owner_of(r) for r in (rs, old) if r is not None]
        for d in owners:
            if d is not None:
                self.enqueue(d)
        if kind != "DELETED" and meta.controller_of(rs) is None:
            for d in self.d_informer.list(namespace=meta.namespace(rs)):
                if meta.selects(d["spec"].get("selector"), rs):
                    self.enqueue(d)

    def on_pod(self, kind, pod, old):
        """Recreate waits for old pods to be gone: look again when one goes."""
        if kind != "DELETED":
            return
        ref = meta.controller_of(pod)
        if not ref or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{meta.namespace(pod)}/{ref['name']}")
        d = self.owner_of(rs) if rs else None
        if d is not None and du.strategy(d) == "Recreate":
            self.enqueue(d)

    # -- the sync ------------------------------------------------------------------------

    def reconcile(self, key):
        cached = self.d_informer.get(key)
        if cached is None:
            return None
        d = copy.deepcopy(cached)
        if not meta.selector_from_dict(d["spec"].get("selector")):
            self.event(d, "Warning", "SelectingAll",
                       "This deployment is selecting all pods. A non-empty selector is required.")
            if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 1):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"].get("generation", 1)
                self.client.update_status(d)
            return None
        rs_list = self.replicasets_for(d)
        if cu.being_deleted(d):
            return rollout.sync_status_only(self, d, rs_list)
        self.check_paused_conditions(d)
        if d["spec"].get("paused"):
            return rollout.sync(self, d, rs_list)
        if self.is_scaling_event(d, rs_list):
            return rollout.sync(self, d, rs_list)
        if du.strategy(d) == "Recreate":
            return rollout.rollout_recreate(self, d, rs_list, self.pod_map(d, rs_list))
        return rollout.rollout_rolling(self, d, rs_list)

    def replicasets_for(self, d):
        """Claim the namespace's ReplicaSets (getReplicaSetsForDeployment); copies."""
        def adopt(rs):
            return self.client.replace(cu.with_controller_ref(rs, d))

        def release(rs):
            return self.client.replace(cu.without_owner(rs, d["metadata"]["uid"]))

        def can_adopt():
            try:
                fresh = self.client.get("deployments", meta.name(d), meta.namespace(d))
            except ApiError as e:
                if e.not_found:
                    return False
                raise
            return fresh["metadata"]["uid"] == d["metadata"]["uid"] and not cu.being_deleted(fresh)

        claimed = cu.claim(d, self.rs_informer.list(namespace=meta.namespace(d)),
                           d["spec"].get("selector"), adopt, release, can_adopt)
        return [copy.deepcopy(rs) for rs in claimed]

    def pod_map(self, d, rs_list):
        """ReplicaSet uid -> its pods (terminating ones too), for Recreate."""
        uids = {rs["metadata"]["uid"]: [] for rs in rs_list}
        for pod in self.pod_informer.list(namespace=meta.namespace(d)):
            ref = meta.controller_of(pod)
            if ref and ref.get("uid") in uids:
                uids[ref["uid"]].append(pod)
        return uids

    def check_paused_conditions(self, d):
        if not du.has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = du.get_condition(status, "Progressing")
        if cond and cond.get("reason") == du.TIMED_OUT:
            return
        paused_noted = bool(cond) and cond.get("reason") == du.PAUSED
        if d["spec"].get("paused") and not paused_noted:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.PAUSED,
                                                      "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_noted:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.RESUMED,
                                                      "Deployment is resumed"))
        else:
            return
        self.write_status(d)

    def is_scaling_event(self, d, rs_list):
        new_rs, old_rs = self.all_replicasets_and_sync_revision(d, rs_list, create=False)
        for rs in du.active(old_rs + [new_rs]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas(d):
                return True
        return False

    # -- the new ReplicaSet and revisions (sync.go) ----------------------------------------

    def all_replicasets_and_sync_revision(self, d, rs_list, create):
        """(new ReplicaSet or None, old ReplicaSets); creates the new one if asked."""
        old_rs = du.find_old_replicasets(d, rs_list)
        return self.new_replicaset(d, rs_list, old_rs, create), old_rs

    def new_replicaset(self, d, rs_list, old_rs, create):
        existing = du.find_new_replicaset(d, rs_list)
        new_revision = du.max_revision(old_rs) + 1
        if existing is not None:
            rs = self.sync_existing_new_replicaset(d, existing, new_revision)
            rs_list[:] = [rs if r["metadata"]["uid"] == rs["metadata"]["uid"] else r
                          for r in rs_list]  # later steps of this sync see the update
            return rs
        if not create:
            return None
        return self.create_new_replicaset(d, old_rs, new_revision)

    def sync_existing_new_replicaset(self, d, existing, new_revision):
        rs = copy.deepcopy(existing)
        changed = du.set_new_replicaset_annotations(d, rs, new_revision, exists=True)
        min_ready = d["spec"].get("minReadySeconds", 0)
        if changed or rs["spec"].get("minReadySeconds", 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            return self.client.replace(rs)
        revision_changed = self.set_deployment_revision(d, meta.annotations(rs).get(du.REVISION))
        status = d.setdefault("status", {})
        status_changed = False
        if du.has_progress_deadline(d) and du.get_condition(status, "Progressing") is None:
            du.set_condition(status, du.new_condition(
                "Progressing", "True", du.FOUND_NEW_RS, f'Found new replica set "{meta.name(rs)}"'))
            status_changed = True
        if revision_changed or status_changed:
            self.write_status(d, annotations_changed=revision_changed)
        return rs

    def create_new_replicaset(self, d, old_rs, new_revision):
        status = d.setdefault("status", {})
        template = copy.deepcopy(d["spec"]["template"])
        h = du.compute_hash(d["spec"]["template"], status.get("collisionCount"))
        template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{meta.name(d)}-{h}", "namespace": meta.namespace(d),
                           "labels": dict(template["metadata"]["labels"]),
                           "ownerReferences": [meta.owner_reference(d)]},
              "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                       "selector": selector, "template": template}}
        rs["spec"]["replicas"] = du.new_rs_new_replicas(d, old_rs + [rs], rs)
        du.set_new_replicaset_annotations(d, rs, new_revision, exists=False)
        try:
            created, already = self.client.create(rs), False
        except ApiError as e:
            if e.code != 409:
                msg = f'Failed to create new replica set "{meta.name(rs)}": {e}'
                du.set_condition(status, du.new_condition("Progressing", "False",
                                                          du.FAILED_RS_CREATE, msg))
                self.event(d, "Warning", du.FAILED_RS_CREATE, msg)
                self._quiet_status_write(d)
                raise
            created, already = self.existing_or_collision(d, rs, e), True
        if not already and du.replicas(created) > 0:
            self.event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set "
                       f"{meta.name(created)} from 0 to {du.replicas(created)}")
        revision_changed = self.set_deployment_revision(d, str(new_revision))
        if not already and du.has_progress_deadline(d):
            du.set_condition(status, du.new_condition(
                "Progressing", "True", du.NEW_RS_CREATED,
                f'Created new replica set "{meta.name(created)}"'))
        if revision_changed or not already:
            self.write_status(d, annotations_changed=revision_changed)
        return created

    def existing_or_collision(self, d, rs, error):
        """AlreadyExists: our own ReplicaSet seen late by the cache, or a hash collision."""
        existing = self.rs_informer.get(meta.key(rs))
        if existing is None:
            existing = self.client.get("replicasets", meta.name(rs), meta.namespace(rs))
        if cu.is_controlled_by(existing, d) and du.equal_ignore_hash(
                d["spec"]["template"], existing["spec"].get("template")):
            return copy.deepcopy(existing)
        status = d.setdefault("status", {})
        status["collisionCount"] = (status.get("collisionCount") or 0) + 1
        self._quiet_status_write(d)
        raise error

    def set_deployment_revision(self, d, rev):
        if rev is None or meta.annotations(d).get(du.REVISION) == rev:
            return False
        d["metadata"].setdefault("annotations", {})[du.REVISION] = rev
        return True

    # -- writes ---------------------------------------------------------------------------

    def scale_replicaset_and_record_event(self, rs, new_scale, d):
        if du.replicas(rs) == new_scale:
            return False, rs
        return self.scale_replicaset(rs, new_scale, d,
                                     "up" if du.replicas(rs) < new_scale else "down")

    def scale_replicaset(self, rs, new_scale, d, operation):
        size_changes = du.replicas(rs) != new_scale
        max_replicas = du.replicas(d) + du.max_surge(d)
        if not size_changes and not du.replicas_annotations_need_update(rs, du.replicas(d),
                                                                        max_replicas):
            return False, rs
        old = du.replicas(rs)
        rs = copy.deepcopy(rs)
        rs["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs, du.replicas(d), max_replicas)
        rs = self.client.replace(rs)  # carries the resourceVersion: a stale cache gets a 409
        if size_changes:
            self.event(d, "Normal", "ScalingReplicaSet",
                       f"Scaled {operation} replica set {meta.name(rs)} from {old} to {new_scale}")
        return size_changes, rs

    def write_status(self, d, annotations_changed=False):
        """Persist d's status, and its revision annotation with it: as upstream, through
        the status subresource, which keeps the annotations we send but, unlike an update of
        the Deployment itself, does not count them as a new generation."""
        try:
            _refresh(d, self.client.update_status(d))
        except ApiError as e:
            if not e.not_found:  # deleted meanwhile: nothing to report on
                raise

    def _quiet_status_write(self, d):
        try:
            self.write_status(d)
        except ApiError as e:
            log.info("%s: status update failed: %s", meta.key(d), e)


def _refresh(d, fresh):
    """Make the working copy `d` the server's latest version of itself."""
    d.clear()
    d.update(fresh)
